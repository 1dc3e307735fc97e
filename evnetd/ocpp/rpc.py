"""OCPP-J 1.6 RPC layer: ``ocpp.v16.ChargePoint`` answering bad input with the CALLERRORs the spec names.

Why: ``ocpp`` 2.1.0 routes CALLs fine but answers broken ones in ways OCPP-J 1.6 §4.2.3 and EVerest's
conformance tests (``ocpp16/broken.py``) reject (reference/ocpp16.md §1.4, DESIGN.md §10 item 9):
NotImplemented and NotSupported are swapped (codes and descriptions), schema errors get 2.0 spellings
(FormatViolation) or other codes (ProtocolError, TypeConstraintViolation), a frame that is not JSON or
not an OCPP-J frame gets no answer at all, a handler returning a non-dataclass crashes ``start()``, and
exceptions of ``@after`` coroutines are lost.

`StrictChargePoint` therefore re-implements the two routing methods, ``route_message`` and ``_handle_call``.
The re-implemented library logic is only the handler dispatch (snake_case kwargs, the optional
``call_unique_id`` argument, ``@after`` after the reply) and the frame parsing, which ``ocpp.messages.unpack``
does without keeping the unique id. Schemas, their loading and caching (``get_validator``), key conversion,
serialisation, ``start()``, ``call()`` with its lock and the response queue stay the library's.

What a CALL gets, in the order it is checked:

========================================================  ========================================
Input                                                     CALLERROR code
========================================================  ========================================
not UTF-8, not JSON (also NaN/Infinity, absurd nesting)   GenericError (EVerest
                                                          ``test_invalid_encoding_in_payload``)
JSON, but not ``[2, id, action, {payload}]``: not an      FormationViolation ("not conform the PDU
array, unknown MessageTypeId, wrong element count or      structure", §4.2.3). ProtocolError
element type                                              ("Payload for Action is incomplete") is
                                                          about the payload, not the frame.
action that OCPP 1.6 does not define                      NotImplemented
OCPP 1.6 action without an ``@on`` handler                NotSupported
payload against the schema                                `SCHEMA_ERROR_CODES`, by the jsonschema
                                                          keyword of the first error
handler raises ``OCPPError``                              its code, in the 1.6 spelling
handler raises anything else, or returns an answer        InternalError (logged with traceback)
that does not serialise or fails its own schema
========================================================  ========================================

The unique id of a frame-level error is the frame's if it can be read (for text that is not JSON: from a
``[2,"id"`` prefix), else "-1", the id OCPP-J 2.0.1 prescribes for that case (1.6 has no rule; libocpp
uses "-1" for 1.6 too). Frames recognisable as a CALLRESULT or CALLERROR (MessageTypeId 3 or 4) are never
answered, only logged, because a CALLERROR answers a CALL; well-formed ones go to ``call()``, which logs
and drops unknown ids (library behaviour). Nothing here closes the connection or raises out of ``start()``
because of a frame; only ``recv()``/``send()`` errors end it. A binary frame that decodes as UTF-8 is read
like a text frame (OCPP-J uses text frames; refusing costs an answer and gains nothing).

Validation runs inline, and importing this module sets ``ocpp.messages.ASYNC_VALIDATION = False`` for the
library's own ``call()`` path too. Measured on the 2-core dev box: a thread-pool hop costs ~100 µs, validating
a Heartbeat 5 µs, a ChangeConfiguration 17 µs, a 10-period SetChargingProfile ~250 µs; jsonschema is pure
Python, so the executor (holding the GIL all the same) adds latency and no parallelism. The switch is
process-wide; evnetd has a single OCPP connection.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, NoReturn, Protocol

import ocpp.messages
from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp import exceptions as errors
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import Call, CallError, CallResult, MessageType, get_validator
from ocpp.v16 import ChargePoint
from ocpp.v16.enums import Action

__all__ = ["SCHEMA_ERROR_CODES", "Connection", "StrictChargePoint"]

ocpp.messages.ASYNC_VALIDATION = False

LOGGER = logging.getLogger(__name__)

#: OCPP-J 1.6 error class for the jsonschema keyword of the first schema error in a received CALL; keywords
#: not listed (none of the 1.6 schemas uses another that can fail) give FormationViolation. Type and maxLength
#: errors are FormationViolation rather than TypeConstraintViolation because EVerest's tests
#: (``test_wrong_payload_type``, ``test_too_long_payload_field``) expect that. The 1.6 schemas have no
#: ``pattern`` or ``maxItems``; they are listed so that a corrected schema cannot fall through to the default.
SCHEMA_ERROR_CODES: Mapping[str, type[errors.OCPPError]] = {
    "required": errors.FormationViolationError,
    "type": errors.FormationViolationError,
    "maxLength": errors.FormationViolationError,
    "additionalProperties": errors.FormationViolationError,
    "additionalItems": errors.FormationViolationError,
    "enum": errors.PropertyConstraintViolationError,
    "pattern": errors.PropertyConstraintViolationError,
    "multipleOf": errors.PropertyConstraintViolationError,
    "minItems": errors.OccurenceConstraintViolationError,
    "maxItems": errors.OccurenceConstraintViolationError,
}

# OCPP-J 1.6 §4.2.3 spells these two codes differently from 2.0 (errata §5: known, left unfixed).
_SPELLING_1_6 = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}

# §4.2.3 descriptions; the library's default descriptions of these two classes are swapped like their use.
_DESCRIPTION_1_6 = {
    "NotImplemented": "Requested Action is not known by receiver",
    "NotSupported": "Requested Action is recognized but not supported by the receiver",
}

_ACTIONS_1_6 = frozenset(action.value for action in Action)

# Schemas with ``multipleOf: 0.1`` must see floats as Decimal; the same set ``ocpp.messages`` special-cases,
# so the handler gets ``Decimal`` limits as with the library (reference/ocpp16.md §1.5) - here also when the
# route skips validation, so that the handler's types do not depend on that flag.
_DECIMAL_SCHEMAS = frozenset(
    {
        (MessageType.Call, "SetChargingProfile"),
        (MessageType.Call, "RemoteStartTransaction"),
        (MessageType.CallResult, "GetCompositeSchedule"),
    }
)

_FRAME_LENGTH = {MessageType.Call: 4, MessageType.CallResult: 3, MessageType.CallError: 5}

# A unique id at the start of a CALL whose text is not JSON as a whole.
_CALL_PREFIX = re.compile(r'\s*\[\s*2\s*,\s*("(?:[^"\\]|\\.)*")')

_UNKNOWN_ID = "-1"


class Connection(Protocol):
    """What the library needs of a websocket; a text frame is ``str``, a binary one ``bytes``."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...


class _BadFrame(Exception):
    """A frame that is not an OCPP-J message; ``reply`` is the CALLERROR for it, None if it must not be answered."""

    def __init__(self, reason: str, reply: CallError | None) -> None:
        super().__init__(reason)
        self.reply = reply


class StrictChargePoint(ChargePoint):  # type: ignore[misc]  # ocpp ships no type information
    """``ocpp.v16.ChargePoint`` (charge point side) whose answers to bad CALLs follow OCPP-J 1.6; see the module.

    ``answer_calls`` False makes the charge point mute: CALLs and broken frames are logged and neither handled
    nor answered, as OCPP 1.6 §4.2 requires while the BootNotification is Rejected. CALLRESULTs and CALLERRORs
    still reach ``call()`` so the next BootNotification gets its answer.
    """

    answer_calls: bool

    def __init__(
        self, id: str, connection: Connection, response_timeout: float = 30, logger: logging.Logger = LOGGER
    ) -> None:
        super().__init__(id, connection, response_timeout, logger)
        self.answer_calls = True
        # Strong references: the event loop keeps only weak ones, so an unreferenced task can vanish mid-run.
        self._after_tasks: set[asyncio.Future[Any]] = set()

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Hand responses to ``call()`` and answer everything else, never raising because of the frame.

        Overridden because the library drops frames it cannot parse without an answer (reference §1.4).
        """
        try:
            msg = _unpack(raw_msg)
        except _BadFrame as bad:
            self.logger.warning("%s: bad frame %r: %s", self.id, raw_msg, bad)
            if bad.reply is not None and self._may_answer(raw_msg):
                await self._send(bad.reply.to_json())
            return
        if not isinstance(msg, Call):
            self._response_queue.put_nowait(msg)
        elif self._may_answer(raw_msg):
            await self._handle_call(msg)

    async def _handle_call(self, msg: Call) -> None:
        """Answer one CALL: the ``@on`` handler's result or the 1.6 CALLERROR, then start the ``@after`` hook.

        Overridden (instead of wrapping) because every step of the library's version answers with other codes
        and some failures escape it; the dispatch itself behaves like the library's.
        """
        handlers = self.route_map.get(msg.action, {})
        validate = not handlers.get("_skip_schema_validation", False)
        try:
            handler = _on_handler(msg.action, handlers)
            payload = _with_schema_floats(MessageType.Call, msg.action, msg.payload)
            if validate:
                _check_call_payload(msg.action, payload)
            kwargs = camel_to_snake_case(payload)
            response = _invoke(handler, kwargs, msg.unique_id)
            if inspect.isawaitable(response):
                response = await response
            reply = _call_result_json(msg, response, validate)
        except errors.OCPPError as error:
            self.logger.warning("%s: answering %s with %s %s", self.id, msg, type(error).__name__, error.details)
            await self._send(_call_error_json(msg.unique_id, error))
            return
        except Exception:
            self.logger.exception("%s: handling %s failed, answering InternalError", self.id, msg)
            await self._send(_call_error_json(msg.unique_id, errors.InternalError()))
            return
        await self._send(reply)
        self._start_after(handlers.get("_after_action"), kwargs, msg)

    def _may_answer(self, raw_msg: str | bytes) -> bool:
        """False (and logged) while the charge point must stay mute."""
        if not self.answer_calls:
            self.logger.warning("%s: not answering %r (answer_calls is False)", self.id, raw_msg)
        return self.answer_calls

    def _start_after(self, hook: Callable[..., Any] | None, kwargs: dict[str, Any], msg: Call) -> None:
        """Run the ``@after`` hook; a coroutine becomes a task whose exception is logged, not lost (pitfall 11)."""
        if hook is None:
            return
        try:
            result = _invoke(hook, kwargs, msg.unique_id)
        except Exception:
            self.logger.exception("%s: @after hook for %s failed", self.id, msg)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._log_failure(result, msg))
            self._after_tasks.add(task)
            task.add_done_callback(self._after_tasks.discard)

    async def _log_failure(self, awaitable: Awaitable[Any], msg: Call) -> None:
        """Body of an ``@after`` task (a task so ``self.call()`` in it cannot deadlock): log what it raises."""
        try:
            await awaitable
        except Exception:
            self.logger.exception("%s: @after hook for %s failed", self.id, msg)


def _unpack(raw: str | bytes) -> Call | CallResult | CallError:
    """``ocpp.messages.unpack`` that keeps the unique id of a broken frame and decides whether to answer it."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        frame = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        generic = errors.GenericError(details={"cause": "frame is not UTF-8 JSON"})
        reply = CallError(_recover_unique_id(raw), generic.code, generic.description, generic.details)
        raise _BadFrame(f"not UTF-8 JSON: {error!r}", reply) from error
    if not isinstance(frame, list):
        _reject_frame("not a JSON array", _UNKNOWN_ID)
    message_type = frame[0] if frame and type(frame[0]) is int else None
    unique_id = frame[1] if len(frame) > 1 and isinstance(frame[1], str) else None
    is_response = message_type in (MessageType.CallResult, MessageType.CallError)
    if message_type not in _FRAME_LENGTH:
        _reject_frame("unknown MessageTypeId", unique_id)
    if len(frame) != _FRAME_LENGTH[message_type]:
        _reject_frame(
            f"MessageTypeId {message_type} needs {_FRAME_LENGTH[message_type]} elements", unique_id, is_response
        )
    if unique_id is None:
        _reject_frame("UniqueId is not a string", _UNKNOWN_ID, is_response)
    if message_type == MessageType.CallResult:
        return CallResult(unique_id, frame[2])
    if message_type == MessageType.CallError:
        return CallError(*frame[1:])
    if not isinstance(frame[2], str):
        _reject_frame("Action is not a string", unique_id)
    if not isinstance(frame[3], dict):
        _reject_frame("Payload is not a JSON object", unique_id)
    return Call(unique_id, frame[2], frame[3])


def _reject_frame(cause: str, unique_id: str | None, is_response: bool = False) -> NoReturn:
    """Raise `_BadFrame` with a FormationViolation answer, or none for a response (CALLERROR answers a CALL)."""
    error = errors.FormationViolationError(details={"cause": cause})
    reply = None if is_response else CallError(unique_id or _UNKNOWN_ID, error.code, error.description, error.details)
    raise _BadFrame(cause, reply)


def _reject_constant(name: str) -> NoReturn:
    """NaN and ±Infinity are Python's extension, not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not JSON")


def _recover_unique_id(raw: str | bytes) -> str:
    """The id of a CALL whose text is not JSON as a whole, when it starts like one; else "-1"."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    match = _CALL_PREFIX.match(text)
    if match is None:
        return _UNKNOWN_ID
    try:
        unique_id: str = json.loads(match.group(1))
    except ValueError:  # a bad escape inside the id
        return _UNKNOWN_ID
    return unique_id


def _on_handler(action: str, handlers: Mapping[str, Any]) -> Callable[..., Any]:
    """The ``@on`` handler, or the OCPP-J 1.6 error for its absence (the library swaps the two codes)."""
    handler: Callable[..., Any] | None = handlers.get("_on_action")
    if handler is not None:
        return handler
    if action in _ACTIONS_1_6:
        raise errors.NotSupportedError(details={"cause": f"{action} is not supported by this charge point"})
    raise errors.NotImplementedError(details={"cause": f"{action} is not an OCPP 1.6 action"})


def _float_type(message_type_id: int, action: str) -> Callable[[str], Any]:
    """How JSON numbers with a fraction must be parsed for this message's schema (as ``ocpp.messages`` does)."""
    return Decimal if (message_type_id, action) in _DECIMAL_SCHEMAS else float


def _with_schema_floats(message_type_id: int, action: str, payload: Any) -> Any:
    """``payload`` with floats as ``Decimal`` where the schema needs that, else as is."""
    if _float_type(message_type_id, action) is Decimal:
        return json.loads(json.dumps(payload), parse_float=Decimal)
    return payload


def _validator(message_type_id: int, action: str) -> Any:
    """The library's cached Draft 4 validator for this message."""
    return get_validator(message_type_id, action, "1.6", parse_float=_float_type(message_type_id, action))


def _check_call_payload(action: str, payload: Any) -> None:
    """Raise the `SCHEMA_ERROR_CODES` error for the first schema error in a received CALL's payload."""
    try:
        _validator(MessageType.Call, action).validate(payload)
    except SchemaValidationError as error:
        code = SCHEMA_ERROR_CODES.get(str(error.validator), errors.FormationViolationError)
        raise code(details={"cause": error.message, "path": error.json_path}) from error


def _invoke(handler: Callable[..., Any], kwargs: dict[str, Any], unique_id: str) -> Any:
    """Call an ``@on``/``@after`` handler as the library does: ``call_unique_id`` only if its signature has it."""
    if "call_unique_id" in inspect.signature(handler).parameters:
        return handler(**kwargs, call_unique_id=unique_id)
    return handler(**kwargs)


def _call_result_json(msg: Call, response: Any, validate: bool) -> str:
    """The CALLRESULT text for a handler's dataclass, checked as it will go on the wire.

    Raises a non-OCPP exception (TypeError, jsonschema's ValidationError) for a bad answer, so that our own
    bug becomes InternalError and not a schema-violation code blaming the CSMS.
    """
    payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
    text: str = msg.create_call_result(payload).to_json()
    if validate:
        wire_payload = json.loads(text, parse_float=_float_type(MessageType.CallResult, msg.action))[2]
        _validator(MessageType.CallResult, msg.action).validate(wire_payload)
    return text


def _call_error_json(unique_id: str, error: errors.OCPPError) -> str:
    """The CALLERROR text for ``error``, with the 1.6 spelling and description of its code."""
    code = getattr(error, "code", errors.InternalError.code)  # the OCPPError base class has no code
    code = _SPELLING_1_6.get(code, code)
    description = error.description
    if description == error.default_description:
        description = _DESCRIPTION_1_6.get(code, description)
    try:
        return str(CallError(unique_id, code, description, error.details).to_json())
    except (TypeError, ValueError):  # details a handler filled with something JSON cannot carry
        return str(CallError(unique_id, code, description, {}).to_json())
