"""A typical training script: it trains, then crashes while plotting and reporting."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.MSELoss()
x, y = torch.randn(32, 3), torch.randn(32, 1)
losses = []

for step in range(20):
    optimizer.zero_grad()
    prediction = model(x)
    loss = criterion(prediction, y)
    loss.backward()
    optimizer.step()
    losses.append(loss)

model.eval()  # eval() does not turn grad off: the next line still crashes
plt.scatter(y.numpy(), prediction.numpy())
plt.figure()
plt.plot(losses)  # a list of tensors that require grad: matplotlib converts each one
plt.savefig("fit.png")
print("final loss", loss.numpy())

with torch.no_grad():
    print("held-out", model(torch.randn(4, 3)).numpy().ravel())  # fine: grad mode is off
