"""InfoNCE over the two views of each image, and the KoLeo spreading term (as in SSCD)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE over 2B unit vectors: each view's positive is the other view of its image."""
    z = torch.cat([z1, z2]).float()
    n = z1.shape[0]
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, target)


def koleo(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """KoLeo entropy estimate: −mean log(distance to the nearest neighbour that is not the positive)."""
    z = torch.cat([z1, z2]).float()
    n = z1.shape[0]
    sim = z @ z.T
    idx = torch.arange(2 * n, device=z.device)
    sim[idx, idx] = -2.0
    sim[idx, (idx + n) % (2 * n)] = -2.0
    nearest = sim.max(dim=1).values.clamp(max=1.0)
    distance = torch.sqrt((2 - 2 * nearest).clamp(min=0) + eps)
    return -torch.log(distance + eps).mean()


# --- optimisation ----------------------------------------------------------------------------------
