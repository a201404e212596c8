"""One way to read a CloudFormation value as text, for every rule of the pack.

Literals stay as written; references become ``${...}`` placeholders in the ``Fn::Sub`` style
(``${Bucket}``, ``${Bucket.Arn}``, ``${AWS::Region}``), so a rule can match text such as
``logs.${AWS::Region}.amazonaws.com`` or parse a state machine's ``DefinitionString`` as
JSON. A value with no single text (an unknown intrinsic, a list, a malformed function) is
:data:`UNKNOWN`. (cdk-nag spells values differently, ``<Bucket.Arn>``, in its finding ids:
that renderer is ``constructs.acknowledgements.render_reference``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNKNOWN = "${?}"
"""The text of a value that has none: an intrinsic other than Ref, Fn::GetAtt, Fn::Join and
Fn::Sub (``Fn::If``, ``Fn::Select``, ``Fn::ImportValue``...), a list, or a malformed call."""


def render(value: Any) -> str:  # noqa: PLR0911 (one return per kind of value)
    """``value`` as text.

    - strings as written; numbers as written (``5``, ``0.5``); booleans ``true`` / ``false``
      (as in the JSON template); ``None`` (an absent value) as ``""``;
    - ``{"Ref": "X"}`` as ``${X}``; ``{"Fn::GetAtt": ["X", "Arn"]}`` (or ``"X.Arn"``) as
      ``${X.Arn}``;
    - ``Fn::Join`` as its parts rendered and joined (a single part may stand for the list);
    - ``Fn::Sub`` as its text, its ``${...}`` kept (the variables map is not applied);
    - anything else as :data:`UNKNOWN`, including a mapping with more than one key (not an
      intrinsic function call).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, Mapping) or len(value) != 1:
        return UNKNOWN
    ((function, argument),) = value.items()
    if function == "Ref" and isinstance(argument, str):
        return "${" + argument + "}"
    if function == "Fn::GetAtt":
        return _get_att(argument)
    if function == "Fn::Join":
        return _join(argument)
    if function == "Fn::Sub":
        text = argument[0] if isinstance(argument, list) and argument else argument
        return text if isinstance(text, str) else UNKNOWN
    return UNKNOWN


def _get_att(argument: Any) -> str:
    if isinstance(argument, str):
        return "${" + argument + "}"
    if isinstance(argument, list) and len(argument) == 2:
        return "${" + ".".join(render(part) for part in argument) + "}"
    return UNKNOWN


def _join(argument: Any) -> str:
    if not (isinstance(argument, list) and len(argument) == 2):
        return UNKNOWN
    separator, parts = argument
    if not isinstance(separator, str):
        return UNKNOWN
    items = parts if isinstance(parts, list) else [parts]
    return separator.join(render(part) for part in items)
