"""A context manager that registers torch hooks and removes every one on exit, even on error."""

from __future__ import annotations

from typing import Callable

import torch


class HookSet:
    """Collect torch hook handles and remove them all when the block ends.

    with HookSet() as hooks:
        hooks.forward(module, record_output)
        model.generate(...)
    """

    def __init__(self) -> None:
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def forward(self, module: torch.nn.Module, hook: Callable, *, with_kwargs: bool = False) -> None:
        """Register a forward hook, called as hook(module, args, [kwargs,] output)."""
        self._handles.append(module.register_forward_hook(hook, with_kwargs=with_kwargs))

    def forward_pre(self, module: torch.nn.Module, hook: Callable, *, with_kwargs: bool = False) -> None:
        """Register a forward pre-hook, called as hook(module, args, [kwargs])."""
        self._handles.append(module.register_forward_pre_hook(hook, with_kwargs=with_kwargs))

    def remove(self) -> None:
        """Remove every registered hook."""
        while self._handles:
            self._handles.pop().remove()

    def __enter__(self) -> "HookSet":
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()

    def __len__(self) -> int:
        return len(self._handles)
