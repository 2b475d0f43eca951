"""Shape checks shared by the public tensor functions: errors name the expected shape."""

import torch


def check_trailing(name: str, x: torch.Tensor, *dims: int | str) -> None:
    """Raise unless ``x`` is a tensor whose trailing dims match ``dims`` (a str matches any size)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    n = len(dims)
    tail = tuple(x.shape[x.dim() - n :]) if x.dim() >= n else None
    if tail is None or any(isinstance(d, int) and d != s for d, s in zip(dims, tail, strict=True)):
        expected = ", ".join(["..."] + [str(d) for d in dims])
        raise ValueError(f"{name}: expected ({expected}), got {tuple(x.shape)}")
