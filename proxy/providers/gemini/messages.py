"""OpenAI `messages` -> Gemini `systemInstruction` + `contents`.

Rules (https://ai.google.dev/api/caching#Content):
- system and developer messages, wherever they appear, become `systemInstruction` parts in
  order; Gemini has a single system instruction.
- user -> role "user"; assistant -> role "model"; tool (and legacy function) results ->
  `functionResponse` parts in a "user" content. Consecutive contents of the same role are
  merged, so parallel tool results land in one content, as Gemini requires.
- assistant tool_calls -> `functionCall` parts (arguments parsed from their JSON string),
  with the thought signature carried in the call id restored on the part (ids.py).
- a tool result's name is recovered from the assistant tool call with the same id; its
  content becomes `response` when it is a JSON object, else `{"result": <value>}` (the
  parsed JSON value, or the text when it is not JSON): Gemini wants an object there.
- empty text parts are dropped (Gemini answers 400 "empty text parameter"); a message
  left without parts is skipped.
- Images: a data URL -> `inlineData`; an http(s) or gs:// URL -> `fileData` with the
  MIME type guessed from the path's extension (image/jpeg when unknown; Gemini fetches
  public URLs itself). `detail` has no Gemini equivalent and is ignored. input_audio ->
  `inlineData` audio/wav or audio/mp3; file parts with `file_data` -> `inlineData`
  (application/pdf unless the data URL or file name says otherwise); `file_id` refers to
  OpenAI's file store and is unsupported.
- Ignored as carrying no meaning for Gemini: message `name`, assistant `reasoning_content`
  (Gemini does not take thoughts back; signatures are what preserve its reasoning) and
  `prompt_cache_breakpoint` hints on content parts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.errors import invalid_request, unsupported_parameter
from proxy.providers.gemini.ids import split_tool_call_id
from proxy.providers.gemini.wire import Content, GeminiRole, Part, SystemInstruction

_ROLES: dict[str, GeminiRole] = {
    "user": "user",
    "assistant": "model",
    "tool": "user",
    "function": "user",
}
_SYSTEM_ROLES = frozenset({"system", "developer"})

# Extension -> MIME type for URL parts; a fixed table so translation does not depend on
# the host's /etc/mime.types. Types from https://ai.google.dev/gemini-api/docs/image-understanding
# and .../document-processing, .../audio.
MIME_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "mov": "video/mov",
    "webm": "video/webm",
}
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}
_URL_SCHEMES = ("http", "https", "gs")


class MessageConverter:
    """One request's messages; `provider` and `drop_unsupported` shape the errors."""

    def __init__(self, provider: str, drop_unsupported: bool) -> None:
        self._provider = provider
        self._drop = drop_unsupported
        self._names: dict[str, str] = {}  # tool call id (without signature) -> function name
        self._system: list[Part] = []
        self._contents: list[Content] = []

    def convert(self, messages: list[Any]) -> tuple[SystemInstruction | None, list[Content]]:
        self._remember_tool_names(messages)
        for i, message in enumerate(messages):
            role = message["role"]
            where = f"messages[{i}]"
            if role in _SYSTEM_ROLES:
                self._system.extend(self._text_parts(message.get("content"), where))
                continue
            convert = self._CONVERTERS[role]
            self._append(_ROLES[role], convert(self, message, where))
        system: SystemInstruction | None = {"parts": self._system} if self._system else None
        return system, self._contents

    def _append(self, role: GeminiRole, parts: list[Part]) -> None:
        if not parts:
            return
        if self._contents and self._contents[-1]["role"] == role:
            self._contents[-1]["parts"].extend(parts)
        else:
            self._contents.append({"role": role, "parts": parts})

    def _remember_tool_names(self, messages: list[Any]) -> None:
        for message in messages:
            if message.get("role") != "assistant":
                continue
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict) and isinstance(call.get("id"), str):
                    function = call.get("function")
                    if isinstance(function, dict) and isinstance(function.get("name"), str):
                        self._names[split_tool_call_id(call["id"])[0]] = function["name"]

    # --- per role ----------------------------------------------------------------------

    def _user(self, message: dict[str, Any], where: str) -> list[Part]:
        return self._content_parts(message.get("content"), where)

    def _assistant(self, message: dict[str, Any], where: str) -> list[Part]:
        parts = self._text_parts(message.get("content"), where)
        calls = message.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise invalid_request(
                f"Invalid '{where}.tool_calls': expected an array.", f"{where}.tool_calls"
            )
        for j, call in enumerate(calls or ()):
            parts.append(self._function_call(call, f"{where}.tool_calls[{j}]"))
        legacy = message.get("function_call")
        if isinstance(legacy, dict):
            parts.append(self._function_call({"function": legacy}, f"{where}.function_call"))
        return parts

    def _function_call(self, call: Any, where: str) -> Part:
        if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
            raise invalid_request(f"Invalid '{where}': expected a function tool call.", where)
        function = call["function"]
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_request(
                f"Missing required parameter: '{where}.function.name'.", f"{where}.function.name"
            )
        part: Part = {
            "functionCall": {"name": name, "args": _arguments(function.get("arguments"), where)}
        }
        call_id = call.get("id")
        if isinstance(call_id, str):
            signature = split_tool_call_id(call_id)[1]
            if signature:
                part["thoughtSignature"] = signature
        return part

    def _tool(self, message: dict[str, Any], where: str) -> list[Part]:
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str):
            raise invalid_request(
                f"Missing required parameter: '{where}.tool_call_id'.", f"{where}.tool_call_id"
            )
        name = self._names.get(split_tool_call_id(call_id)[0])
        if name is None:
            raise invalid_request(
                f"Invalid '{where}.tool_call_id': no assistant message has a tool call with id "
                f"'{call_id[:80]}'. A tool message must answer a preceding assistant tool call.",
                f"{where}.tool_call_id",
            )
        return [_function_response(name, self._joined_text(message.get("content"), where))]

    def _function(self, message: dict[str, Any], where: str) -> list[Part]:
        name = message.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_request(f"Missing required parameter: '{where}.name'.", f"{where}.name")
        return [_function_response(name, self._joined_text(message.get("content"), where))]

    _CONVERTERS: dict[str, Callable[[MessageConverter, dict[str, Any], str], list[Part]]] = {
        "user": _user,
        "assistant": _assistant,
        "tool": _tool,
        "function": _function,
    }

    # --- content -----------------------------------------------------------------------

    def _text_parts(self, content: Any, where: str) -> list[Part]:
        """Content that may only hold text (system, developer, assistant, tool)."""
        text = self._joined_text(content, where)
        return [{"text": text}] if text else []

    def _joined_text(self, content: Any, where: str) -> str:
        if content is None or isinstance(content, str):
            return content or ""
        texts: list[str] = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "refusal" and isinstance(part.get("refusal"), str):
                texts.append(part["refusal"])
            else:
                raise invalid_request(
                    f"Invalid '{where}.content[{j}]': only text parts are allowed in this message.",
                    f"{where}.content[{j}]",
                )
        return "".join(texts)

    def _content_parts(self, content: Any, where: str) -> list[Part]:
        if content is None or isinstance(content, str):
            return [{"text": content}] if content else []
        parts: list[Part] = []
        for j, part in enumerate(content):
            converted = self._content_part(part, f"{where}.content[{j}]")
            if converted is not None:
                parts.append(converted)
        return parts

    def _content_part(self, part: Any, where: str) -> Part | None:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid_request(
                    f"Invalid '{where}.text': expected a string.", f"{where}.text"
                )
            return {"text": text} if text else None
        if kind == "image_url":
            return _image_part(part.get("image_url"), where)
        if kind == "input_audio":
            return _audio_part(part.get("input_audio"), where)
        if kind == "file":
            return self._file_part(part.get("file"), where)
        raise invalid_request(
            f"Invalid '{where}.type': expected 'text', 'image_url', 'input_audio' or 'file'.",
            f"{where}.type",
        )

    def _file_part(self, file: Any, where: str) -> Part | None:
        if not isinstance(file, dict):
            raise invalid_request(f"Invalid '{where}.file': expected an object.", f"{where}.file")
        data = file.get("file_data")
        if isinstance(data, str) and data:
            if data.startswith("data:"):
                return _data_url_part(data, where, "application/pdf")
            filename = file.get("filename")
            mime = _mime_from_path(filename if isinstance(filename, str) else "", "application/pdf")
            return {"inlineData": {"mimeType": mime, "data": data}}
        if file.get("file_id") is not None:
            if self._drop:
                return None
            raise unsupported_parameter(f"{where}.file.file_id", self._provider)
        raise invalid_request(
            f"Missing required parameter: '{where}.file.file_data'.", f"{where}.file.file_data"
        )


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        value = raw
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_request(
            f"Invalid '{where}.function.arguments': expected a JSON object in a string.",
            f"{where}.function.arguments",
        )
    return value


def _function_response(name: str, text: str) -> Part:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    return {"functionResponse": {"name": name, "response": response}}


def _image_part(image: Any, where: str) -> Part:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise invalid_request(
            f"Missing required parameter: '{where}.image_url.url'.", f"{where}.image_url.url"
        )
    if url.startswith("data:"):
        return _data_url_part(url, f"{where}.image_url.url", "image/jpeg")
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _URL_SCHEMES:
        raise invalid_request(
            f"Invalid '{where}.image_url.url': expected a data URL or an http(s) URL.",
            f"{where}.image_url.url",
        )
    return {
        "fileData": {"mimeType": _mime_from_path(urlsplit(url).path, "image/jpeg"), "fileUri": url}
    }


def _audio_part(audio: Any, where: str) -> Part:
    if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
        raise invalid_request(
            f"Missing required parameter: '{where}.input_audio.data'.", f"{where}.input_audio.data"
        )
    mime = AUDIO_MIME.get(str(audio.get("format")))
    if mime is None:
        raise invalid_request(
            f"Invalid '{where}.input_audio.format': expected 'wav' or 'mp3'.",
            f"{where}.input_audio.format",
        )
    return {"inlineData": {"mimeType": mime, "data": audio["data"]}}


def _data_url_part(url: str, where: str, default_mime: str) -> Part:
    header, comma, data = url[5:].partition(",")
    params = header.split(";")
    if not comma or "base64" not in params[1:]:
        raise invalid_request(
            f"Invalid '{where}': expected a base64 data URL (data:<type>;base64,<data>).", where
        )
    return {"inlineData": {"mimeType": params[0] or default_mime, "data": data}}


def _mime_from_path(path: str, default: str) -> str:
    _, dot, extension = path.rpartition(".")
    return MIME_BY_EXTENSION.get(extension.lower(), default) if dot else default
