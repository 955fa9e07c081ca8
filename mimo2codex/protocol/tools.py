"""Lowering Codex's Responses tools to Chat Completions functions.

Chat Completions knows one kind of tool, ``{"type": "function", "function": {...}}``, while Codex
declares ``function``, ``namespace``, ``custom`` (freeform: apply_patch), ``tool_search``,
``local_shell`` and hosted tools (CONTRACT §3). Each lowering is recorded in a :class:`ToolMap` so
the response translators can raise the model's calls back into the items Codex executes::

    tools, tool_map, notes = lower_tools(request["tools"], profile)
    choice, choice_notes = lower_tool_choice(request.get("tool_choice"), tool_map)

Tool schemas are passed by reference, never copied: a Codex request carries ~30 KB of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.fields import optional_str
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.toolmap import ToolEntry, ToolKind, ToolMap

#: Vendors validate function names against ``^[a-zA-Z0-9_-]{1,64}$``.
_VALID_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64

#: Codex's names for the tools that have no ``name`` field of their own.
TOOL_SEARCH_NAME = "tool_search"
LOCAL_SHELL_NAME = "local_shell"

WEB_SEARCH_TOOL_TYPES = frozenset(
    {"web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26"}
)
#: OpenAI tools that run on OpenAI's side (or produce items Codex 0.169 does not execute).
HOSTED_TOOL_TYPES = frozenset(
    {
        "file_search",
        "code_interpreter",
        "computer_use_preview",
        "computer",
        "image_generation",
        "mcp",
        "shell",
        "apply_patch",
    }
)

#: How the model is told to call a lowered freeform tool. Codex's own apply_patch description says
#: "do not wrap the patch in JSON", which the JSON envelope of a function call seems to contradict.
FREEFORM_USAGE = (
    "Calling convention: this tool takes free-form text, not structured arguments. Call it with a "
    'single string argument `input` holding the complete raw text: {"input": "<raw text>"}. '
    "Inside `input`, write the text exactly as it should be consumed: no JSON of its own, no "
    "Markdown code fences, no extra quoting. Any instruction above not to use JSON applies to the "
    "text inside `input`."
)
_FREEFORM_INPUT_DESCRIPTION = "The raw text for this tool, exactly as described in the tool description (not JSON)."

_TOOL_SEARCH_DESCRIPTION = "Search for additional tools by keyword. Found tools can be called afterwards."
_LOCAL_SHELL_DESCRIPTION = (
    "Run a command on the user's machine and return its output. `command` is the argument vector, "
    'e.g. ["bash", "-lc", "ls -la"].'
)


def chat_name(name: str) -> str:
    """``name`` made acceptable to vendors (``^[a-zA-Z0-9_-]{1,64}$``); uniqueness is the caller's job.

    >>> chat_name("multi_agent_v1__spawn_agent"), chat_name("mcp.github/create issue")
    ('multi_agent_v1__spawn_agent', 'mcp_github_create_issue')
    """
    if _VALID_NAME.fullmatch(name):
        return name
    return _INVALID_NAME_CHARS.sub("_", name)[:_MAX_NAME] or "tool"


def lower_tools(tools: list[Any], profile: UpstreamProfile) -> tuple[list[dict[str, Any]], ToolMap, list[Note]]:
    """The chat ``tools`` for a Responses ``tools`` array, the map to raise calls back, and notes."""
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be an array", param="tools")
    lowering = ToolLowering(profile)
    lowering.add_all(tools, "tools")
    return lowering.tools, lowering.tool_map, lowering.notes


def lower_tool_choice(choice: object, tool_map: ToolMap) -> tuple[str | dict[str, Any] | None, list[Note]]:
    """The chat ``tool_choice`` for a Responses one (None: leave it out).

    Forcing a tool the upstream does not have would make it answer 400, so such choices become
    ``"auto"`` with a note.
    """
    if choice is None:
        return None, []
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice, []
        raise InvalidRequest("tool_choice must be 'auto', 'none', 'required' or an object", param="tool_choice")
    if not isinstance(choice, dict):
        raise InvalidRequest("tool_choice must be a string or an object", param="tool_choice")
    kind = choice.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest("tool_choice.type must be a string", param="tool_choice.type")
    if kind in ("function", "custom"):
        name = choice.get("name")
        if not isinstance(name, str):
            raise InvalidRequest(f"tool_choice.name must be a string for type {kind!r}", param="tool_choice.name")
        namespace = choice.get("namespace")
        flat = tool_map.flat_name(name, namespace if isinstance(namespace, str) and namespace else None)
    elif kind in (TOOL_SEARCH_NAME, LOCAL_SHELL_NAME):
        flat = tool_map.flat_name(kind)
    else:
        return "auto", [
            Note("info", "tool_choice", kind, f"tool_choice of type {kind!r} has no Chat equivalent; sent 'auto'")
        ]
    if tool_map.entry(flat) is None:
        return "auto", [
            Note(
                "info",
                "tool_choice",
                flat,
                f"tool_choice names {flat!r}, which is not among the tools sent; sent 'auto'",
            )
        ]
    return {"type": "function", "function": {"name": flat}}, []


class ToolLowering:
    """Accumulates chat tools and their :class:`ToolMap` entries, one Responses tool at a time.

    The request translator keeps adding to it while reading history: tools loaded by a client
    ``tool_search`` (``tool_search_output.tools``) and ``additional_tools`` items become callable.
    """

    __slots__ = ("_declared", "_web_search_sent", "has_tool_search", "notes", "profile", "tool_map", "tools")

    def __init__(self, profile: UpstreamProfile, notes: list[Note] | None = None) -> None:
        self.profile = profile
        self.notes: list[Note] = notes if notes is not None else []
        self.tools: list[dict[str, Any]] = []
        self.tool_map = ToolMap()
        #: a client-executed tool_search was declared: the tools it loads are callable
        self.has_tool_search = False
        self._declared: set[tuple[str | None, str]] = set()
        self._web_search_sent = False

    def add_all(self, tools: list[Any], where: str, *, from_history: bool = False) -> None:
        for index, tool in enumerate(tools):
            self.add(tool, f"{where}[{index}]", from_history=from_history)

    def add(self, tool: object, where: str, *, from_history: bool = False) -> None:
        if not isinstance(tool, dict):
            raise InvalidRequest(f"{where} must be an object", param=where)
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise InvalidRequest(f"{where}.type must be a string", param=f"{where}.type")
        handler = _TOOL_HANDLERS.get(kind)
        if handler is not None:
            handler(self, tool, where, from_history)
        elif kind in WEB_SEARCH_TOOL_TYPES:
            self._web_search(kind)
        elif kind in HOSTED_TOOL_TYPES:
            self.notes.append(
                Note("info", "dropped_tool", kind, f"dropped the {kind!r} tool: it runs on OpenAI's servers only")
            )
        else:
            self.notes.append(
                Note("warning", "unknown_tool_type", kind, f"dropped a tool of unknown type {kind!r} ({where})")
            )

    # -- one method per tool type -------------------------------------------------------------

    def _function(self, tool: dict[str, Any], where: str, from_history: bool, namespace: str | None = None) -> None:
        name = _name(tool, where)
        description = optional_str(tool, "description", where)
        parameters = tool.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        elif not isinstance(parameters, dict):
            raise InvalidRequest(f"{where}.parameters must be an object", param=f"{where}.parameters")
        flat = self._claim(name, namespace, where, from_history)
        if flat is None:
            return
        function: dict[str, Any] = {"name": flat}
        if description:
            function["description"] = description
        function["parameters"] = parameters
        strict = tool.get("strict")
        if isinstance(strict, bool):  # MiMo and MiniMax reject ``strict: null``
            function["strict"] = strict
        self.tools.append({"type": "function", "function": function})
        self.tool_map.add(flat, ToolEntry(ToolKind.FUNCTION, name, namespace))

    def _namespace(self, tool: dict[str, Any], where: str, from_history: bool) -> None:
        namespace = _name(tool, where)
        children = tool.get("tools")
        if not isinstance(children, list):
            raise InvalidRequest(f"{where}.tools must be an array", param=f"{where}.tools")
        for index, child in enumerate(children):
            child_where = f"{where}.tools[{index}]"
            if not isinstance(child, dict):
                raise InvalidRequest(f"{child_where} must be an object", param=child_where)
            kind = child.get("type")
            if kind == "function":
                self._function(child, child_where, from_history, namespace)
            elif kind == "custom":
                self._custom(child, child_where, from_history, namespace)
            else:
                self.notes.append(
                    Note(
                        "warning",
                        "unknown_tool_type",
                        f"{namespace}/{kind}",
                        f"dropped a tool of type {kind!r} inside namespace {namespace!r} ({child_where})",
                    )
                )

    def _custom(self, tool: dict[str, Any], where: str, from_history: bool, namespace: str | None = None) -> None:
        name = _name(tool, where)
        description = optional_str(tool, "description", where)
        text = _freeform_description(description, tool.get("format"), where)
        flat = self._claim(name, namespace, where, from_history)
        if flat is None:
            return
        parameters = {
            "type": "object",
            "properties": {"input": {"type": "string", "description": _FREEFORM_INPUT_DESCRIPTION}},
            "required": ["input"],
            "additionalProperties": False,
        }
        self.tools.append(
            {"type": "function", "function": {"name": flat, "description": text, "parameters": parameters}}
        )
        self.tool_map.add(flat, ToolEntry(ToolKind.CUSTOM, name, namespace))

    def _tool_search(self, tool: dict[str, Any], where: str, from_history: bool) -> None:
        if tool.get("execution") != "client":
            self.notes.append(
                Note("info", "dropped_tool", TOOL_SEARCH_NAME, "dropped the server-executed tool_search tool")
            )
            return
        description = optional_str(tool, "description", where) or _TOOL_SEARCH_DESCRIPTION
        parameters = tool.get("parameters")
        if parameters is None:
            parameters = {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "number"}},
                "required": ["query"],
            }
        elif not isinstance(parameters, dict):
            raise InvalidRequest(f"{where}.parameters must be an object", param=f"{where}.parameters")
        flat = self._claim(TOOL_SEARCH_NAME, None, where, from_history)
        if flat is None:
            return
        self.has_tool_search = True
        self.tools.append(
            {"type": "function", "function": {"name": flat, "description": description, "parameters": parameters}}
        )
        self.tool_map.add(flat, ToolEntry(ToolKind.TOOL_SEARCH, TOOL_SEARCH_NAME))

    def _local_shell(self, tool: dict[str, Any], where: str, from_history: bool) -> None:
        flat = self._claim(LOCAL_SHELL_NAME, None, where, from_history)
        if flat is None:
            return
        parameters = {
            "type": "object",
            "properties": {
                "command": {"type": "array", "items": {"type": "string"}, "description": "The argument vector."},
                "workdir": {"type": "string", "description": "The working directory."},
                "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds."},
            },
            "required": ["command"],
        }
        self.tools.append(
            {
                "type": "function",
                "function": {"name": flat, "description": _LOCAL_SHELL_DESCRIPTION, "parameters": parameters},
            }
        )
        self.tool_map.add(flat, ToolEntry(ToolKind.LOCAL_SHELL, LOCAL_SHELL_NAME))

    def _web_search(self, kind: str) -> None:
        vendor_tool = self.profile.web_search_tool
        if vendor_tool is None:
            label = self.profile.label or self.profile.model
            self.notes.append(
                Note("debug", "dropped_tool", kind, f"dropped the {kind!r} tool: web search is not enabled for {label}")
            )
        elif not self._web_search_sent:
            self._web_search_sent = True
            self.tools.append(vendor_tool)

    # -- names --------------------------------------------------------------------------------

    def _claim(self, name: str, namespace: str | None, where: str, from_history: bool) -> str | None:
        """A unique chat name for a Codex tool, or None when the tool was already declared."""
        key = (namespace, name)
        if key in self._declared:
            if not from_history:  # tools loaded again by a later tool_search are expected
                shown = f"{namespace}.{name}" if namespace else name
                self.notes.append(
                    Note(
                        "info",
                        "duplicate_tool",
                        shown,
                        f"dropped duplicate tool {shown!r} ({where}); the first one wins",
                    )
                )
            return None
        self._declared.add(key)
        wanted = f"{namespace}__{name}" if namespace else name
        flat = chat_name(wanted)
        taken = self.tool_map.entries
        if flat in taken:
            counter = 2
            while True:
                suffix = f"_{counter}"
                candidate = flat[: _MAX_NAME - len(suffix)] + suffix
                if candidate not in taken:
                    flat = candidate
                    break
                counter += 1
        if flat != wanted:
            self.notes.append(
                Note(
                    "debug", "renamed_tool", wanted, f"tool {wanted!r} is called {flat!r} upstream (vendor name rules)"
                )
            )
        return flat


_TOOL_HANDLERS: dict[str, Callable[[ToolLowering, dict[str, Any], str, bool], None]] = {
    "function": ToolLowering._function,
    "namespace": ToolLowering._namespace,
    "custom": ToolLowering._custom,
    TOOL_SEARCH_NAME: ToolLowering._tool_search,
    LOCAL_SHELL_NAME: ToolLowering._local_shell,
}


def _name(tool: dict[str, Any], where: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{where}.name must be a non-empty string", param=f"{where}.name")
    return name


def _freeform_description(description: str | None, fmt: object, where: str) -> str:
    """A lowered custom tool's description: Codex's text, the calling convention, then the grammar."""
    parts = [description] if description else []
    parts.append(FREEFORM_USAGE)
    if fmt is None:
        return "\n\n".join(parts)
    if not isinstance(fmt, dict):
        raise InvalidRequest(f"{where}.format must be an object", param=f"{where}.format")
    kind = fmt.get("type")
    if kind == "grammar":
        syntax = fmt.get("syntax")
        definition = fmt.get("definition")
        if not isinstance(definition, str):
            raise InvalidRequest(f"{where}.format.definition must be a string", param=f"{where}.format.definition")
        if syntax == "regex":
            parts.append(f"The text must match this regular expression:\n```\n{definition}\n```")
        else:
            language = syntax if isinstance(syntax, str) and syntax else "lark"
            parts.append(
                f"The text must follow this {language.capitalize()} grammar "
                f"(it describes the raw text itself, not a JSON document):\n```{language}\n{definition}\n```"
            )
    elif kind not in (None, "text"):
        raise InvalidRequest(f"{where}.format.type must be 'text' or 'grammar'", param=f"{where}.format.type")
    return "\n\n".join(parts)
