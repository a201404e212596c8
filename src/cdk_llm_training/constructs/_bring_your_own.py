"""The one "not both" rule of bring-your-own arguments.

Where a construct accepts an existing resource or the means to create (or derive) one, giving
both is an error that names both fields: nothing silently wins and nothing is merged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def is_given(value: object) -> bool:
    """None and empty sequences or mappings (the defaults of optional arguments) are not
    given; anything else is."""
    if value is None:
        return False
    if isinstance(value, Sequence | Mapping) and not isinstance(value, str):
        return len(value) > 0
    return True


def not_both(
    owner: str,
    first: tuple[str, object],
    second: tuple[str, object],
    *,
    because: str = "",
) -> None:
    """Fail when both ``(name, value)`` pairs are given.

    :param owner: the construct class, named in the message.
    :param because: why the two exclude each other (appended to the message).
    :raises ValueError: ``<owner>: <first>= and <second>= were both given; allowed: one of
        them, not both (<because>)``.
    """
    (first_name, first_value), (second_name, second_value) = first, second
    if is_given(first_value) and is_given(second_value):
        reason = f" ({because})" if because else ""
        raise ValueError(
            f"{owner}: {first_name}= and {second_name}= were both given; allowed: one of "
            f"them, not both{reason}"
        )


def none_with(
    owner: str, source: tuple[str, object], others: Mapping[str, object], *, because: str = ""
) -> None:
    """:func:`not_both` of ``source`` and each of ``others`` (``{name: value}``)."""
    for name, value in others.items():
        not_both(owner, source, (name, value), because=because)
