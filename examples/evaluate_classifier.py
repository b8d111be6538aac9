"""Helpers and a model class: where the grad comes from is one call away."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def confidence(logits):
    return F.softmax(logits, dim=-1).max(dim=-1).values.numpy()


torch.manual_seed(0)
classifier = Classifier()
batch = torch.randn(5, 4)
logits = classifier(batch)
print("predicted", logits.argmax(dim=-1).numpy())  # fine: argmax never requires grad
print("confidence", confidence(logits))
print("first weights", classifier.body.weight.cpu().numpy()[0])
print("mean", np.mean(logits.detach().numpy()))  # fine: detached
