"""Memory planning: tensor lifetimes -> offsets in one arena."""
from .arena import ArenaPlan, plan_arena

__all__ = ["ArenaPlan", "plan_arena"]
