"""The handshake, worked byte for byte with the example key, and the security rules."""

from __future__ import annotations

from protocol import messages, session
from protocol.docgen.examples import (
    EXAMPLE_CLIENT_NONCE,
    EXAMPLE_PUMP_NONCE,
    EXAMPLE_ROLE_KEY,
    EXAMPLE_SESSION_KEY,
    EXAMPLES,
)
from protocol.docgen.markdown import example_frame, hex_block, join_parts, table
from protocol.enums import (
    Op,
    Role,
)


def handshake_section() -> str:
    role = Role.CLINICIAN
    first_seq = 1
    open_request, open_response = EXAMPLES[Op.SESSION_OPEN]
    auth_request, auth_response = EXAMPLES[Op.SESSION_AUTH]
    assert open_request is not None and auth_request is not None
    steps = [
        ("1. programmer -> pump, SESSION_OPEN, no MAC", open_request, first_seq, None),
        ("2. pump -> programmer, SESSION_OPEN response, no MAC", open_response, first_seq, None),
        ("3. programmer -> pump, SESSION_AUTH, no MAC", auth_request, first_seq + 1, None),
        (
            "4. pump -> programmer, SESSION_AUTH response, the first MAC'd frame",
            auth_response,
            first_seq + 1,
            EXAMPLE_SESSION_KEY,
        ),
    ]
    status = messages.StatusRequest()
    parts = [
        "## Handshake",
        "Every command except DEVICE_INFO needs a session, opened by mutual "
        "challenge-response. The pump holds one 32-byte key K per role; a session "
        "opens in one role with that role's key. Both sides pick a fresh random "
        "16-byte nonce: `cn` (programmer) and `pn` (pump). `role` below is the role's "
        "single byte; HMAC is HMAC-SHA256; `+` concatenates.",
        table(
            ["value", "definition"],
            [
                ["pump_proof", "HMAC(K, `vpump/pump` + role + cn + pn)"],
                ["client_proof", "HMAC(K, `vpump/prog` + role + pn + cn)"],
                ["session key", "HMAC(K, `vpump/session` + role + cn + pn)"],
                ["MAC of a frame", "first 16 bytes of HMAC(session key, VER .. end of PAYLOAD)"],
            ],
        ),
        "1. The programmer sends SESSION_OPEN {role, cn}.\n"
        "2. The pump answers {pn, pump_proof}.\n"
        "3. The programmer checks pump_proof: if it does not verify, the pump is fake "
        "(or the key is wrong) and the programmer stops. Otherwise it sends "
        "SESSION_AUTH {client_proof}.\n"
        "4. The pump checks client_proof (AUTH_FAILED if it does not verify; every "
        "attempt then needs a new SESSION_OPEN) and answers {role, idle_timeout_s}, "
        "MAC'd with the session key. From here on every frame both ways carries the MAC.",
        "Worked example (clinician role). Role key K = "
        f"`{EXAMPLE_ROLE_KEY.hex()}`, cn = `{EXAMPLE_CLIENT_NONCE.hex()}`, "
        f"pn = `{EXAMPLE_PUMP_NONCE.hex()}`, so the session key is "
        f"`{EXAMPLE_SESSION_KEY.hex()}`.",
    ]
    for title, message, seq, key in steps:
        parts.append(f"{title} (SEQ {seq}):")
        parts.append(hex_block(example_frame(message, seq=seq, key=key)))
    parts.append("Then a STATUS request, MAC'd (SEQ 3):")
    parts.append(hex_block(example_frame(status, seq=first_seq + 2, key=EXAMPLE_SESSION_KEY)))
    _ = role
    return join_parts(parts)


def security_section() -> str:
    transitions = [
        [state.name, event.value, after.name]
        for (state, event), after in session.DEVICE_TRANSITIONS.items()
    ]
    role_rows = [
        [
            op.name,
            "yes" if op in session.ROLE_OPS[Role.CLINICIAN] else "no",
            "yes" if op in session.ROLE_OPS[Role.PATIENT] else "no",
        ]
        for op in Op
        if op is not Op.NAK
    ]
    return join_parts(
        [
            "## Security rules",
            "* **MAC.** After the handshake every frame in both directions sets FLAGS "
            "MAC and carries the MAC. A MAC'd request whose MAC does not verify gets "
            "BAD_MAC and is not executed. A command sent without MAC is refused with "
            "NO_SESSION, even inside a session. The only answers to a MAC'd request "
            "without a MAC are NAKs with NO_SESSION, SESSION_EXPIRED or LOCKED_OUT "
            "(the pump holds no session key then); the programmer must then open a "
            "new session.",
            "* **SEQ.** Each new request in a session carries a SEQ greater than the "
            "last one the pump answered (the SESSION_AUTH's SEQ is the first). SEQ "
            "never wraps: after 0xFFFF the programmer must open a new session. Any "
            "other SEQ that does not move forward is refused with REPLAY.",
            "* **Retransmission.** An exact retransmission of the last answered "
            "request (same SEQ, identical bytes) gets the cached response, byte for "
            "byte, and is not executed again: a retried bolus is delivered once. "
            "A programmer that times out resends the same bytes.",
            "* **Roles.** The table below says which role may use each opcode; "
            "anything else is refused with FORBIDDEN.",
            f"* **Idle timeout.** A request arriving `idle_timeout_s` (default "
            f"{int(session.DEFAULT_IDLE_TIMEOUT_S)} s, sent in the SESSION_AUTH response) "
            "or more after the last accepted request finds the session expired: "
            "SESSION_EXPIRED.",
            "* **Back-off (the lockout), per link.** Bad handshake proofs and bad MACs "
            "count as failures of the link (one pty, one TCP connection, one in-process "
            "port) they arrive on. The first "
            f"{session.DEFAULT_MAX_FAILURES - 1} are answered with their own code "
            "(AUTH_FAILED, BAD_MAC); each further one makes that link back off, for "
            f"{int(session.DEFAULT_BACKOFF_FIRST_S)} s, doubling every time up to "
            f"{int(session.DEFAULT_LOCKOUT_S)} s (so at most 5 tries a minute once it "
            "backs off, then one per 5 minutes). While a link backs off, everything on "
            "it except DEVICE_INFO gets LOCKED_OUT with the seconds left in the reason "
            "(not counted), and its own session ends. A successful handshake, or "
            f"{int(2 * session.DEFAULT_LOCKOUT_S)} s without a failure, forgives the "
            f"link. While the pump has seen {session.DEFAULT_PRESSURE_FAILURES} "
            f"failures (on any links) within {int(session.DEFAULT_LOCKOUT_S)} s, a link "
            "gets no free failures: its first one starts its back-off; and once "
            f"{session.DEFAULT_GATE_AFTER} links that never completed a handshake have "
            f"failed so within {int(session.DEFAULT_LOCKOUT_S)} s (a churn of new links, one "
            "per guess), each further one makes the next such link's SESSION_OPEN get "
            f"LOCKED_OUT for {int(session.DEFAULT_BACKOFF_FIRST_S)} s, so opening a new link "
            "per guess buys no more guesses (a programmer opening a new link while someone "
            "churns links may have to retry; a session already open is never touched). "
            "Failures on one link never end, "
            "refuse or delay a session or a handshake on another link: a clinician can "
            "always stop the pump or cancel a bolus, whatever anyone without the key sends.",
            "* **Security events in the log** are aggregated: a SECURITY entry is written "
            "only when none with the same error code was written in the last hour (of link "
            "time) and the log's trailing run of SECURITY entries holds none with that code; "
            "repeats are counted, not written. So an attack adds at most one entry per error "
            "code an hour, never more than one per code between two other entries, and no "
            "flood of refusals can push therapy history out of the ring.",
            "* **Starting over.** A new SESSION_OPEN ends any session on the link. Frames "
            "MAC'd with the replaced session's key get SESSION_DISPLACED, MAC'd with that "
            "key (so the displaced programmer can trust it); it is never counted as a "
            "failure. The displaced programmer opens a new session.",
            "* **Clocks.** Link timers run on the link's real (monotonic) time, because "
            "they guard a conversation: the idle timeout, the back-off and its forgiveness, "
            "the pressure window, the aggregation of SECURITY entries, and the "
            "0.5 s receive silence and frame-arrival bound that drop a partial frame. "
            "Therapy timers run on pump time (which an emulator may scale, pause or "
            "step): bolus durations, the patient-dose lockout and 24-hour count, alarm "
            "crossings, the event log's timestamps.",
            "* **Refusals are answers.** Once a MAC'd request passed its MAC and SEQ "
            "checks, its answer (success or NAK) is the one cached for retransmits.",
            "* **DEVICE_INFO** without MAC is answered in every state, back-off "
            "included, and does not touch the session.",
            "* **Frames that are not requests** (FLAGS RESPONSE or NOTIFY) sent to the "
            "pump are ignored.",
            "### Roles",
            table(["OP", "clinician", "patient"], role_rows),
            "### Session states at the pump",
            "One state machine per link; LOCKED means this link backs off. A pair not "
            "listed is refused: SESSION_AUTH outside OPENING gets BAD_HANDSHAKE, a MAC'd "
            "command outside ESTABLISHED NO_SESSION (SESSION_EXPIRED after an idle "
            "timeout, SESSION_DISPLACED when MAC'd for a replaced session), anything in "
            "LOCKED LOCKED_OUT.",
            table(["state", "event", "next state"], transitions),
        ]
    )
