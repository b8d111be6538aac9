"""Rules turn the analysis' facts into findings; the registry documents them."""
from .registry import RULES, Rule, all_rules

__all__ = ["RULES", "Rule", "all_rules"]
