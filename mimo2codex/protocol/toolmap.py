"""The map between the tool names a Chat model sees and the Responses tools Codex declared.

Chat Completions only knows flat ``function`` tools. The request translator (``tools.py``) lowers
Codex's ``namespace``, ``custom``, ``tool_search`` and ``local_shell`` tools to functions and records
each lowering here; the response translators use the same map to raise a model's call back into the
item Codex expects (CONTRACT §3.3): a ``function_call`` with its ``namespace`` restored, a
``custom_tool_call`` with the raw ``input``, a ``tool_search_call`` with object ``arguments``...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from mimo2codex.protocol.arguments import parse_object, repair_arguments


class ToolKind(Enum):
    FUNCTION = "function"
    CUSTOM = "custom"
    TOOL_SEARCH = "tool_search"
    LOCAL_SHELL = "local_shell"


@dataclass(frozen=True, slots=True)
class ToolEntry:
    kind: ToolKind
    #: the name Codex knows (inside its namespace, if any)
    name: str
    namespace: str | None = None


@dataclass(slots=True)
class ToolMap:
    """flat chat name -> :class:`ToolEntry`; built by ``tools.lower_tools``."""

    entries: dict[str, ToolEntry] = field(default_factory=dict)
    _flat: dict[tuple[str | None, str], str] = field(default_factory=dict)

    def add(self, flat_name: str, entry: ToolEntry) -> None:
        self.entries[flat_name] = entry
        self._flat.setdefault((entry.namespace, entry.name), flat_name)

    def flat_name(self, name: str, namespace: str | None = None) -> str:
        """The chat name for a Codex tool, used to replay history; derived when not declared."""
        known = self._flat.get((namespace, name))
        if known is not None:
            return known
        return f"{namespace}__{name}" if namespace else name

    def entry(self, flat_name: str) -> ToolEntry | None:
        return self.entries.get(flat_name)

    def to_item(self, *, item_id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
        """The Responses output item for a chat tool call (complete, ready for ``output_item.done``)."""
        entry = self.entries.get(name)
        if entry is None or entry.kind is ToolKind.FUNCTION:
            item: dict[str, Any] = {
                "type": "function_call",
                "id": item_id,
                "call_id": call_id,
                "name": entry.name if entry else name,
                "arguments": repair_arguments(arguments),
                "status": "completed",
            }
            if entry is not None and entry.namespace:
                item["namespace"] = entry.namespace
            return item
        if entry.kind is ToolKind.CUSTOM:
            custom: dict[str, Any] = {
                "type": "custom_tool_call",
                "id": item_id,
                "call_id": call_id,
                "name": entry.name,
                "input": custom_input(arguments),
                "status": "completed",
            }
            if entry.namespace:
                custom["namespace"] = entry.namespace
            return custom
        if entry.kind is ToolKind.TOOL_SEARCH:
            return {
                "type": "tool_search_call",
                "id": item_id,
                "call_id": call_id,
                "execution": "client",
                "status": "completed",
                "arguments": parse_object(repair_arguments(arguments)) or {},
            }
        action = parse_object(repair_arguments(arguments)) or {}
        command = action.get("command")
        if isinstance(command, str):
            command = ["bash", "-lc", command]
        exec_action: dict[str, Any] = {
            "type": "exec",
            "command": [str(part) for part in command] if isinstance(command, list) else [],
        }
        # Only well-typed values: the openai SDK's LocalShellCall rejects loose ones, and requires env.
        workdir = action.get("workdir", action.get("working_directory"))
        if isinstance(workdir, str):
            exec_action["working_directory"] = workdir
        timeout = action.get("timeout_ms")
        if isinstance(timeout, int) and not isinstance(timeout, bool):
            exec_action["timeout_ms"] = timeout
        env = action.get("env")
        exec_action["env"] = {k: v for k, v in env.items() if isinstance(v, str)} if isinstance(env, dict) else {}
        if isinstance(action.get("user"), str):
            exec_action["user"] = action["user"]
        return {
            "type": "local_shell_call",
            "id": item_id,
            "call_id": call_id,
            "status": "completed",
            "action": exec_action,
        }


def custom_input(arguments: str) -> str:
    """The raw freeform input from a lowered custom tool's arguments.

    The model was told to call ``{"input": "<raw text>"}``; models also send the raw text unwrapped
    or under another single key, and we accept each rather than fail the patch.
    """
    parsed = parse_object(arguments)
    if parsed is None:
        repaired = parse_object(repair_arguments(arguments)) if arguments.lstrip().startswith("{") else None
        if repaired is None:
            return arguments
        parsed = repaired
    value = parsed.get("input")
    if isinstance(value, str):
        return value
    strings = [v for v in parsed.values() if isinstance(v, str)]
    if len(strings) == 1:
        return strings[0]
    return arguments
