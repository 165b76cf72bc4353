"""Callback states keyed by name, what a Checkpoint saves next to the training state."""


def clone_state(state):
    """Detached copies of a state dict's tensors (on their device)."""
    return {name: tensor.detach().clone() for name, tensor in state.items()}


def callback_keys(callbacks):
    """``ClassName#k``: the class's name and its rank among the callbacks of that class.

    Robust to callbacks of other classes being added or removed (a ``ProgressBar`` for
    ``verbose=1``), unlike a list position.
    """
    seen = {}
    keys = []
    for callback in callbacks:
        name = type(callback).__qualname__
        keys.append(f"{name}#{seen.get(name, 0)}")
        seen[name] = seen.get(name, 0) + 1
    return keys


def callback_states(callbacks):
    """The non-empty ``state_dict()`` of every callback that has one, by :func:`callback_keys`."""
    states = {}
    for key, callback in zip(callback_keys(callbacks), callbacks, strict=True):
        state_dict = getattr(callback, "state_dict", None)
        state = state_dict() if callable(state_dict) else None
        if state:
            states[key] = state
    return states


def load_callback_states(callbacks, states, source, legacy_positions=False):
    """Give each callback its saved state; refuse states that no callback of this run takes.

    ``legacy_positions``: the states of a version-1 checkpoint, keyed by list position.
    """
    states = dict(states or {})
    keys = [str(i) for i in range(len(callbacks))] if legacy_positions else \
        callback_keys(callbacks)
    for key, callback in zip(keys, callbacks, strict=True):
        if key in states and callable(getattr(callback, "load_state_dict", None)):
            callback.load_state_dict(states.pop(key))
    if states:
        raise ValueError(
            f"Cannot resume from {source}: it holds the state of the callbacks "
            f"{sorted(states)}, which this fit does not have (its callbacks: "
            f"{callback_keys(callbacks)}). Pass the same callbacks (and early_stopping) as "
            "the fit that wrote it, or another path."
        )
