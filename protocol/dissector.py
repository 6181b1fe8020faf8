"""Generate the Wireshark dissector (Lua) from the schemas: ``python -m protocol.dissector``.

``make docs`` writes it to ``protocol/data/vpump.lua`` (shipped in the wheel; a
test fails when it is stale). Nothing here knows a message: the payload
tables are emitted by walking :func:`protocol.wiremodel.model` (the message
registry and each field's wire type), and a small generic Lua interpreter
decodes them, so a new message or field needs only ``make docs``.

What the dissector shows, for the link type ``DLT_USER0`` (147) that
``pump-emulator`` captures use: every frame field (SYNC, VER, FLAGS bits,
SEQ, OP with its name, LEN, the payload, the MAC and the CRC, both verified),
every payload field with its unit and enum names (filterable as
``vpump.<message>.<field>``), undecodable bytes between frames, the packet's
direction (from the pcapng packet flags) and request/response pairing by SEQ
per interface (``vpump.response_in`` and ``vpump.request_in``). MACs are
verified by following each session's handshake (SHA-256 and HMAC in pure
Lua): the session key is derived from the role key whose pump proof
verifies, taken from the ``vpump.keys`` preference or the public demo key.

A ``socket://`` conversation sniffed on a network interface is decoded too
(preference ``vpump.tcp_port``, or Decode As on the TCP port): frames are
reassembled across segments with ``dissect_tcp_pdus``.

Use: ``wireshark -X lua_script:vpump.lua FILE.pcapng`` or
``tshark -X lua_script:vpump.lua -r FILE.pcapng -V``, or copy the file into
Wireshark's personal Lua plugins folder.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field

from protocol import frames, session, wiremodel
from protocol.enums import MAX_PAYLOAD, PROTOCOL_VERSION, Flags, Op, Role
from protocol.frames import crc16
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.messages import SessionOpenRequest, SessionOpenResponse, wire_fields
from protocol.wiremodel import (
    ArrayNode,
    BytesNode,
    IntNode,
    Node,
    RecordNode,
    SwitchNode,
    TextNode,
)

__all__ = ["generate", "main"]


def lua_string(text: str) -> str:
    """A Lua 5.1-5.4 string literal (non-ASCII as decimal byte escapes)."""
    out = ['"']
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def _doc(obj: object) -> str:
    return " ".join((inspect.getdoc(obj) or "").split())


@dataclass
class _Emitter:
    """Collects ProtoField declarations, enum tables and record tables in dependency order."""

    fields: list[str] = field(default_factory=list)
    field_names: set[str] = field(default_factory=set)
    enums: dict[str, type[enum.IntEnum]] = field(default_factory=dict)
    records: list[str] = field(default_factory=list)
    record_names: set[str] = field(default_factory=set)

    def enum_ref(self, cls: type[enum.IntEnum]) -> str:
        self.enums.setdefault(cls.__name__, cls)
        return f"E.{cls.__name__}"

    def proto_field(self, abbr: str, declaration: str) -> str:
        if abbr not in self.field_names:
            self.field_names.add(abbr)
            self.fields.append(f"F[{lua_string(abbr)}] = {declaration}")
        return f"F[{lua_string(abbr)}]"

    def leaf(self, abbr: str, name: str, node: Node, doc: str, unit: str) -> str:
        """The Lua descriptor of one node; declares the fields it needs."""
        desc = lua_string(doc) if doc else "nil"
        label = lua_string(name)
        match node:
            case IntNode(meaning="enum", enum=cls) if cls is not None:
                ref = self.enum_ref(cls)
                f = self.proto_field(
                    abbr,
                    f"ProtoField.uint{node.bits}({lua_string(abbr)}, {label}, base.DEC, "
                    f"{ref}, nil, {desc})",
                )
                return f'{{kind="enum", size={node.bits // 8}, f={f}, names={ref}}}'
            case IntNode(meaning="bits", enum=cls) if cls is not None:
                ref = self.enum_ref(cls)
                f = self.proto_field(
                    abbr,
                    f"ProtoField.uint{node.bits}({lua_string(abbr)}, {label}, base.HEX, "
                    f"nil, nil, {desc})",
                )
                flags = []
                for member in cls:
                    sub = f"{abbr}.{member.name.lower()}"
                    flags.append(
                        self.proto_field(
                            sub,
                            f"ProtoField.bool({lua_string(sub)}, {lua_string(member.name)}, "
                            f"{node.bits}, nil, {1 << member.value:#x})",
                        )
                    )
                return (
                    f'{{kind="bits", size={node.bits // 8}, f={f}, names={ref}, '
                    f"bits={{{', '.join(flags)}}}}}"
                )
            case IntNode(meaning="bool"):
                f = self.proto_field(
                    abbr,
                    f"ProtoField.uint8({lua_string(abbr)}, {label}, base.DEC, "
                    f'{{[0]="false", [1]="true"}}, nil, {desc})',
                )
                return f'{{kind="bool", size=1, f={f}}}'
            case IntNode():
                sign = "int" if node.signed else "uint"
                f = self.proto_field(
                    abbr,
                    f"ProtoField.{sign}{node.bits}({lua_string(abbr)}, {label}, base.DEC, "
                    f"nil, nil, {desc})",
                )
                is_time = node.meaning == "time" or unit == "s (Unix time)"
                unit_text = lua_string(" " + unit) if unit and not is_time else "nil"
                none_is_zero = str(node.meaning == "time").lower()
                extra = f"time={str(is_time).lower()}, none_is_zero={none_is_zero}"
                return f'{{kind="{sign}", size={node.bits // 8}, f={f}, unit={unit_text}, {extra}}}'
            case BytesNode(size=size):
                f = self.proto_field(
                    abbr, f"ProtoField.bytes({lua_string(abbr)}, {label}, base.NONE, {desc})"
                )
                return f'{{kind="bytes", size={size}, f={f}}}'
            case TextNode(greedy=greedy):
                f = self.proto_field(
                    abbr, f"ProtoField.string({lua_string(abbr)}, {label}, base.UNICODE, {desc})"
                )
                return f'{{kind="{"greedy_text" if greedy else "text"}", f={f}}}'
            case ArrayNode(element=element):
                count = self.proto_field(
                    f"{abbr}.count",
                    f"ProtoField.uint8({lua_string(abbr + '.count')}, {lua_string(name + ' count')}"
                    ", base.DEC)",
                )
                inner = self.leaf(abbr, name, element, doc, unit)
                return f'{{kind="array", count={count}, element={inner}}}'
            case RecordNode():
                return f'{{kind="record", rec={self.record(node)}}}'
            case SwitchNode(on=on, cases=cases):
                entries = ", ".join(f"[{key}]={self.record(case)}" for key, case in cases)
                return f'{{kind="switch", on={lua_string(on)}, cases={{{entries}}}}}'
        raise TypeError(f"no Lua for {node!r}")

    def record(self, record: RecordNode) -> str:
        ref = f"R.{record.name}"
        if record.name in self.record_names:
            return ref
        self.record_names.add(record.name)
        prefix = "vpump." + wiremodel.snake(record.name)
        items = []
        for f in record.fields:
            descriptor = self.leaf(f"{prefix}.{f.name}", f.name, f.node, f.doc, f.unit)
            items.append(f"  {{name={lua_string(f.name)}, node={descriptor}}},")
        self.records.append(f"{ref} = {{name={lua_string(record.name)}, fields={{")
        self.records.extend(items)
        self.records.append("}}")
        return ref


def _enum_table(cls: type[enum.IntEnum]) -> str:
    entries = ", ".join(f"[{member.value}]={lua_string(member.name)}" for member in cls)
    return f"E.{cls.__name__} = {{{entries}}}"


def _crc_table() -> str:
    # CRC-16/CCITT-FALSE of each byte value, computed by the protocol's own crc16: the table
    # the Lua code steps through (crc << 8) ^ T[(crc >> 8) ^ byte].
    values = []
    for byte in range(256):
        # The table entry is the CRC register after shifting ``byte`` in from zero.
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        values.append(crc)
    # Cross-check against the protocol's crc16 on one message, so the table cannot drift.
    sample = bytes(range(40))
    register = 0xFFFF
    for byte in sample:
        register = ((register << 8) & 0xFFFF) ^ values[(register >> 8) ^ byte]
    if register != crc16(sample):
        raise AssertionError("the Lua CRC table disagrees with protocol.frames.crc16")
    lines = []
    for start in range(0, 256, 16):
        lines.append("  " + ", ".join(f"0x{v:04X}" for v in values[start : start + 16]) + ",")
    return "local CRC_TABLE = {\n" + "\n".join(lines) + "\n}"


def _messages(emitter: _Emitter) -> Iterator[str]:
    for message in wiremodel.model():
        request = "nil" if message.request is None else emitter.record(message.request)
        response = emitter.record(message.response)
        yield (
            f"MESSAGES[{int(message.op)}] = {{name={lua_string(message.op.name)}, "
            f"request={request}, response={response}}}"
        )


_RUNTIME = r"""
-- ---- the generic interpreter: walks the tables above ------------------------------------

-- 32-bit operations: bit32 in Lua 5.2 (Wireshark up to 4.2), native operators from 5.3 on
local band, bor, bxor, bnot, rshift, lshift
if bit32 then
  band, bor, bxor, bnot = bit32.band, bit32.bor, bit32.bxor, bit32.bnot
  rshift, lshift = bit32.rshift, bit32.lshift
else
  band, bor, bxor, bnot, rshift, lshift = load([[
    local M = 0xFFFFFFFF
    return function(a, b, c) if c then return a & b & c end return a & b end,
      function(a, b) return a | b end,
      function(a, b, c) if c then return a ~ b ~ c end return a ~ b end,
      function(a) return ~a & M end,
      function(a, n) return (a & M) >> n end,
      function(a, n) return (a << n) & M end
  ]])()
end

local function rrotate(x, n)
  return bor(rshift(x, n), lshift(x, 32 - n))
end

-- SHA-256 and HMAC-SHA256, for the MAC and the handshake (pure Lua; frames are short)
local SHA_K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local M32 = 4294967296

local function be32(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
end

local function sha256(message)
  local h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
  local size = #message
  message = message .. "\128" .. string.rep("\0", (55 - size) % 64) .. be32(0) .. be32(size * 8)
  for chunk = 1, #message, 64 do
    local w = {}
    for i = 0, 15 do
      local a, b, c, d = message:byte(chunk + i * 4, chunk + i * 4 + 3)
      w[i] = ((a * 256 + b) * 256 + c) * 256 + d
    end
    for i = 16, 63 do
      local s0 = bxor(rrotate(w[i - 15], 7), rrotate(w[i - 15], 18), rshift(w[i - 15], 3))
      local s1 = bxor(rrotate(w[i - 2], 17), rrotate(w[i - 2], 19), rshift(w[i - 2], 10))
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) % M32
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 0, 63 do
      local s1 = bxor(rrotate(e, 6), rrotate(e, 11), rrotate(e, 25))
      local ch = bxor(band(e, f), band(bnot(e), g))
      local t1 = (hh + s1 + ch + SHA_K[i + 1] + w[i]) % M32
      local s0 = bxor(rrotate(a, 2), rrotate(a, 13), rrotate(a, 22))
      local maj = bxor(band(a, b), band(a, c), band(b, c))
      local t2 = (s0 + maj) % M32
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) % M32, c, b, a, (t1 + t2) % M32
    end
    h[1], h[2], h[3], h[4] = (h[1] + a) % M32, (h[2] + b) % M32, (h[3] + c) % M32, (h[4] + d) % M32
    h[5], h[6], h[7], h[8] = (h[5] + e) % M32, (h[6] + f) % M32, (h[7] + g) % M32, (h[8] + hh) % M32
  end
  local out = {}
  for i = 1, 8 do out[i] = be32(h[i]) end
  return table.concat(out)
end

local function hmac_sha256(key, message)
  if #key > 64 then key = sha256(key) end
  key = key .. string.rep("\0", 64 - #key)
  local inner, outer = {}, {}
  for i = 1, 64 do
    inner[i] = string.char(bxor(key:byte(i), 0x36))
    outer[i] = string.char(bxor(key:byte(i), 0x5c))
  end
  return sha256(table.concat(outer) .. sha256(table.concat(inner) .. message))
end

local function from_hex(text)
  return (text:gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
end

local function crc16(tvb, off, n)
  local bytes = tvb:bytes(off, n)
  local crc = 0xFFFF
  for i = 0, n - 1 do
    local index = bxor(math.floor(crc / 256), bytes:get_index(i))
    crc = bxor((crc % 256) * 256, CRC_TABLE[index + 1])
  end
  return crc
end

local function utc(seconds)
  return os.date("!%Y-%m-%d %H:%M:%S UTC", seconds)
end

local dissect_node

local function dissect_record(rec, tvb, off, limit, tree, pinfo)
  local values = {}
  for _, fd in ipairs(rec.fields) do
    local value
    off, value = dissect_node(fd.node, fd.name, tvb, off, limit, tree, pinfo, values)
    if off == nil then return nil end
    values[fd.name] = value
  end
  return off, values
end

local function short(tree, pinfo, tvb, off, limit, name)
  local item = tree:add(tvb(math.min(off, limit), 0), name .. ": payload too short")
  item:add_proto_expert_info(EX.short, "the payload ends inside " .. name)
  return nil
end

dissect_node = function(node, name, tvb, off, limit, tree, pinfo, values)
  local kind = node.kind
  if kind == "record" then
    local sub = tree:add(tvb(off, math.max(limit - off, 0)), name .. " (" .. node.rec.name .. ")")
    local stop = dissect_record(node.rec, tvb, off, limit, sub, pinfo)
    if stop then sub:set_len(stop - off) end
    return stop
  elseif kind == "switch" then
    local case = node.cases[values[node.on]]
    if case == nil then return off end
    local sub = tree:add(tvb(off, math.max(limit - off, 0)), name .. " (" .. case.name .. ")")
    local stop = dissect_record(case, tvb, off, limit, sub, pinfo)
    if stop then sub:set_len(stop - off) end
    return stop
  elseif kind == "array" then
    if off + 1 > limit then return short(tree, pinfo, tvb, off, limit, name) end
    local count = tvb(off, 1):uint()
    local sub = tree:add(tvb(off, math.max(limit - off, 0)), name .. " [" .. count .. "]")
    sub:add(node.count, tvb(off, 1))
    local start = off
    off = off + 1
    for i = 0, count - 1 do
      off = dissect_node(node.element, name .. "[" .. i .. "]", tvb, off, limit, sub, pinfo, {})
      if off == nil then return nil end
    end
    sub:set_len(off - start)
    return off, count
  elseif kind == "text" then
    if off + 1 > limit then return short(tree, pinfo, tvb, off, limit, name) end
    local n = tvb(off, 1):uint()
    if off + 1 + n > limit then return short(tree, pinfo, tvb, off, limit, name) end
    local text = n > 0 and tvb(off + 1, n):string(ENC_UTF_8) or ""
    tree:add(node.f, tvb(off, 1 + n), text)
    return off + 1 + n, text
  elseif kind == "greedy_text" then
    local n = limit - off
    local text = n > 0 and tvb(off, n):string(ENC_UTF_8) or ""
    if n > 0 then tree:add(node.f, tvb(off, n), text) else tree:add(node.f, tvb(off, 0), "") end
    return limit, text
  end
  local size = node.size
  if off + size > limit then return short(tree, pinfo, tvb, off, limit, name) end
  local range = tvb(off, size)
  if kind == "bytes" then
    tree:add(node.f, range)
    return off + size, tvb:raw(off, size)
  end
  local value
  if size == 8 then
    value = range:uint64():tonumber()
  elseif kind == "int" then
    value = range:int()
  else
    value = range:uint()
  end
  local item = tree:add(node.f, range)
  if node.time then
    if value == 0 and node.none_is_zero then
      item:append_text(" (none)")
    else
      item:append_text(" s (" .. utc(value) .. ")")
    end
  elseif kind == "bits" then
    local set = {}
    for _, flag in ipairs(node.bits) do item:add(flag, range) end
    for bit = 0, size * 8 - 1 do
      if math.floor(value / 2 ^ bit) % 2 == 1 then
        set[#set + 1] = node.names[bit] or ("bit " .. bit)
      end
    end
    item:append_text(" {" .. table.concat(set, ", ") .. "}")
  elseif node.unit then
    item:append_text(node.unit)
  end
  return off + size, value
end

-- sessions by interface, followed through the handshake on the first pass: the session key
-- of each MAC'd frame, derived from a role key (the preference, then the public demo key)
-- whose pump proof verifies
local sessions, frame_keys = {}, {}

local function role_keys(role)
  local keys = {}
  for name, hex in string.gmatch(vpump.prefs.keys or "", "(%a+)%s*=%s*(%x+)") do
    if ROLE_IDS[name:lower()] == role and #hex == 64 then keys[#keys + 1] = from_hex(hex) end
  end
  if DEMO_KEYS_HEX[role] then keys[#keys + 1] = from_hex(DEMO_KEYS_HEX[role]) end
  return keys
end

local function follow_session(iface, number, op, is_response, has_mac, values)
  if op == OP_SESSION_OPEN and not is_response and values[F_ROLE] then
    sessions[iface] = {role = values[F_ROLE], client_nonce = values[F_CLIENT_NONCE]}
  elseif op == OP_SESSION_OPEN and is_response and sessions[iface] and values[F_PUMP_NONCE] then
    local s = sessions[iface]
    s.key = nil
    local context = string.char(s.role) .. s.client_nonce .. values[F_PUMP_NONCE]
    for _, role_key in ipairs(role_keys(s.role)) do
      if hmac_sha256(role_key, LABEL_PUMP .. context) == values[F_PUMP_PROOF] then
        s.key = hmac_sha256(role_key, LABEL_SESSION .. context)
        break
      end
    end
  end
  if has_mac then
    frame_keys[number] = sessions[iface] and sessions[iface].key or false
  end
end

-- a link: a capture interface, and within it a TCP connection when sniffed over TCP
local PT_TCP = 2  -- pinfo.port_type of a TCP segment

local function over_tcp(pinfo)
  return pinfo.port_type == PT_TCP
end

local function conversation(pinfo)
  local iface = f_interface_id()
  local key = tostring(iface and iface.value or 0)
  if over_tcp(pinfo) then  -- the two endpoints, in a fixed order
    local a = tostring(pinfo.src) .. ":" .. pinfo.src_port
    local b = tostring(pinfo.dst) .. ":" .. pinfo.dst_port
    key = key .. "/" .. (a < b and (a .. "-" .. b) or (b .. "-" .. a))
  end
  return key
end

-- requests and responses by (interface, SEQ), filled on the first pass
local requests, responses, paired = {}, {}, {}

local function dissect_frame(tvb, pinfo, tree, off)
  local available = tvb:len() - off
  local frame = tree:add(vpump, tvb(off, math.min(available, HEADER_SIZE)))
  if available < HEADER_SIZE then
    frame:add_proto_expert_info(EX.truncated, "a frame header needs " .. HEADER_SIZE .. " bytes")
    return tvb:len(), "truncated"
  end
  local ver = tvb(off + 2, 1):uint()
  local flags = tvb(off + 3, 1):uint()
  local seq = tvb(off + 4, 2):uint()
  local op = tvb(off + 6, 1):uint()
  local len = tvb(off + 7, 2):uint()
  local has_mac = math.floor(flags / FLAG_MAC) % 2 == 1
  local is_response = math.floor(flags / FLAG_RESPONSE) % 2 == 1
  local total = HEADER_SIZE + len + (has_mac and MAC_SIZE or 0) + CRC_SIZE
  frame:add(F["vpump.sync"], tvb(off, 2))
  local ver_item = frame:add(F["vpump.ver"], tvb(off + 2, 1))
  local flags_item = frame:add(F["vpump.flags"], tvb(off + 3, 1))
  flags_item:add(F["vpump.flags.response"], tvb(off + 3, 1))
  flags_item:add(F["vpump.flags.mac"], tvb(off + 3, 1))
  flags_item:add(F["vpump.flags.notify"], tvb(off + 3, 1))
  frame:add(F["vpump.seq"], tvb(off + 4, 2))
  frame:add(F["vpump.op"], tvb(off + 6, 1))
  local len_item = frame:add(F["vpump.len"], tvb(off + 7, 2))
  if ver ~= PROTOCOL_VERSION then
    ver_item:add_proto_expert_info(EX.bad_frame, "VER must be " .. PROTOCOL_VERSION)
  end
  if len > MAX_PAYLOAD then
    len_item:add_proto_expert_info(EX.bad_frame, "LEN is over " .. MAX_PAYLOAD)
    return off + 1, "bad LEN"
  end
  if available < total then
    frame:set_len(available)
    frame:add_proto_expert_info(EX.truncated, "the frame needs " .. total .. " bytes, " ..
      available .. " captured")
    return tvb:len(), "truncated"
  end
  frame:set_len(total)
  local message = MESSAGES[op]
  local name = message and message.name or string.format("OP 0x%02X", op)
  local kind = is_response and "response" or "request"
  frame:append_text(", " .. name .. " " .. kind .. ", SEQ " .. seq)
  local payload_off = off + HEADER_SIZE
  local payload_tree = frame:add(F["vpump.payload"], tvb(payload_off, len))
  local rec = message and (is_response and message.response or message.request)
  local summary = name .. " " .. kind
  local values
  if rec then
    payload_tree:set_text(rec.name .. " (" .. len .. " bytes)")
    local stop
    stop, values = dissect_record(rec, tvb, payload_off, payload_off + len, payload_tree, pinfo)
    if stop and stop < payload_off + len then
      payload_tree:add_proto_expert_info(EX.trailing, (payload_off + len - stop) ..
        " bytes after the last field")
    end
  elseif message == nil then
    payload_tree:add_proto_expert_info(EX.unknown_op, string.format("unknown opcode 0x%02X", op))
  end
  local crc_off = off + total - CRC_SIZE
  local computed = crc16(tvb, off + 2, total - 2 - CRC_SIZE)
  local good = computed == tvb(crc_off, CRC_SIZE):uint()
  local iface = conversation(pinfo)
  if not pinfo.visited and good then
    follow_session(iface, pinfo.number, op, is_response, has_mac, values or {})
  end
  if has_mac then
    local mac_off = payload_off + len
    local mac_item = frame:add(F["vpump.mac"], tvb(mac_off, MAC_SIZE))
    local key = frame_keys[pinfo.number]
    if key then
      local expected = hmac_sha256(key, tvb:raw(off + 2, HEADER_SIZE - 2 + len)):sub(1, MAC_SIZE)
      local ok = expected == tvb:raw(mac_off, MAC_SIZE)
      mac_item:add(F["vpump.mac.status"], tvb(mac_off, MAC_SIZE), ok and 1 or 0):set_generated()
      if ok then
        mac_item:append_text(" [verified]")
      else
        mac_item:append_text(" [does not verify]")
        mac_item:add_proto_expert_info(EX.bad_mac, "bad MAC under this session's key")
        summary = summary .. " [BAD MAC]"
      end
    else
      mac_item:add(F["vpump.mac.status"], tvb(mac_off, MAC_SIZE), 2):set_generated()
      mac_item:append_text(" [not checked: no key for this session]")
    end
  end
  local crc_item = frame:add(F["vpump.crc"], tvb(crc_off, CRC_SIZE))
  crc_item:add(F["vpump.crc.status"], tvb(crc_off, CRC_SIZE), good and 1 or 0):set_generated()
  if not good then
    crc_item:append_text(string.format(" [incorrect, should be 0x%04X]", computed))
    crc_item:add_proto_expert_info(EX.bad_crc,
      string.format("bad CRC: computed 0x%04X (the pump drops this frame)", computed))
    summary = summary .. " [BAD CRC]"
  else
    crc_item:append_text(" [correct]")
  end
  -- pairing by SEQ on this interface
  local key = iface .. ":" .. seq
  if not pinfo.visited and good then
    if is_response then
      local request = requests[key]
      if request then
        paired[pinfo.number] = request
        responses[request] = pinfo.number
      end
    else
      requests[key] = pinfo.number
    end
  end
  if is_response and paired[pinfo.number] then
    frame:add(F["vpump.request_in"], paired[pinfo.number]):set_generated()
  elseif not is_response and responses[pinfo.number] then
    frame:add(F["vpump.response_in"], responses[pinfo.number]):set_generated()
  end
  return off + total, summary .. " SEQ " .. seq
end

local function direction_of(pinfo)
  local known = DIRECTIONS[pinfo.p2p_dir]
  if known or not over_tcp(pinfo) then return known end
  -- TCP: the pump is the side that listens on the port this dissector was chosen for
  local port = vpump.prefs.tcp_port
  if pinfo.dst_port == pinfo.match_uint or (port ~= 0 and pinfo.dst_port == port) then
    return "to pump"
  end
  return "to programmer"
end

local tcp_frames_in_packet = 0

local function dissect_frames(tvb, pinfo, tree)
  pinfo.cols.protocol = "vpump"
  local direction = direction_of(pinfo)
  local off, parts = 0, {}
  while off < tvb:len() do
    local sync = nil
    for i = off, tvb:len() - 2 do
      if tvb(i, 1):uint() == SYNC0 and tvb(i + 1, 1):uint() == SYNC1 then sync = i break end
    end
    local junk_end = sync or tvb:len()
    if junk_end > off then
      local item = tree:add(F["vpump.junk"], tvb(off, junk_end - off))
      item:add_proto_expert_info(EX.junk, (junk_end - off) .. " bytes outside any frame")
      parts[#parts + 1] = "undecodable bytes"
      off = junk_end
    end
    if sync then
      local summary
      off, summary = dissect_frame(tvb, pinfo, tree, sync)
      parts[#parts + 1] = summary
    end
  end
  if direction then
    tree:add(F["vpump.direction"], tvb(0, 0), direction):set_generated()
  end
  local text = (direction and (direction .. " ") or "") .. table.concat(parts, "; ")
  if over_tcp(pinfo) and tcp_frames_in_packet > 0 then
    pinfo.cols.info:append("; " .. text)  -- a TCP segment may complete several frames
  else
    pinfo.cols.info = text
  end
  tcp_frames_in_packet = tcp_frames_in_packet + 1
  return tvb:len()
end

-- TCP (pump-emulator serve --tcp, sniffed): frames reassembled across segments
local function tcp_frame_length(tvb, pinfo, offset)
  local available = tvb:len() - offset
  if tvb(offset, 1):uint() ~= SYNC0 or tvb(offset + 1, 1):uint() ~= SYNC1 then
    for i = offset + 1, tvb:len() - 2 do  -- bytes outside a frame: up to the next SYNC
      if tvb(i, 1):uint() == SYNC0 and tvb(i + 1, 1):uint() == SYNC1 then return i - offset end
    end
    return available
  end
  local len = tvb(offset + 7, 2):uint()
  if len > MAX_PAYLOAD then return 1 end  -- not a frame: its first byte is noise
  local has_mac = math.floor(tvb(offset + 3, 1):uint() / FLAG_MAC) % 2 == 1
  return HEADER_SIZE + len + (has_mac and MAC_SIZE or 0) + CRC_SIZE
end

function vpump.dissector(tvb, pinfo, tree)
  if over_tcp(pinfo) then
    tcp_frames_in_packet = 0
    dissect_tcp_pdus(tvb, tree, HEADER_SIZE, tcp_frame_length, dissect_frames)
    return tvb:len()
  end
  return dissect_frames(tvb, pinfo, tree)
end

local registered_port = 0
function vpump.prefs_changed()
  local table = DissectorTable.get("tcp.port")
  if registered_port ~= 0 then table:remove(registered_port, vpump) end
  registered_port = vpump.prefs.tcp_port
  if registered_port ~= 0 then table:add(registered_port, vpump) end
end

DissectorTable.get("tcp.port"):add_for_decode_as(vpump)
DissectorTable.get("wtap_encap"):add((wtap_encaps or wtap).USER0, vpump)
"""


def _handshake_constants() -> list[str]:
    """What following a session needs: the handshake's opcode, field names and labels, the
    roles, the public demo key, and the preference for other keys."""
    open_request = wire_fields(SessionOpenRequest)
    open_response = wire_fields(SessionOpenResponse)
    names = {f.name for f in open_request} | {f.name for f in open_response}
    for name in ("role", "client_nonce", "pump_nonce", "pump_proof"):
        if name not in names:
            raise TypeError(f"the SESSION_OPEN messages have no {name!r}: update the dissector")
    demo = load_keys(DEMO_KEY_FILE)
    roles = ", ".join(f"{role.name.lower()} = {int(role)}" for role in Role)
    demo_hex = ", ".join(f"[{int(role)}] = {lua_string(key.hex())}" for role, key in demo.items())
    return [
        f"local OP_SESSION_OPEN = {int(Op.SESSION_OPEN)}",
        'local F_ROLE, F_CLIENT_NONCE = "role", "client_nonce"',
        'local F_PUMP_NONCE, F_PUMP_PROOF = "pump_nonce", "pump_proof"',
        f"local LABEL_PUMP = {lua_string(session.PUMP_PROOF_LABEL.decode())}",
        f"local LABEL_SESSION = {lua_string(session.SESSION_KEY_LABEL.decode())}",
        f"local ROLE_IDS = {{{roles}}}",
        "-- the documented, public demo key (protocol/data/demo.key): always tried",
        f"local DEMO_KEYS_HEX = {{{demo_hex}}}",
        'vpump.prefs.keys = Pref.string("Role keys", "", "clinician=<64 hex digits>, '
        "patient=<64 hex digits>: the pump's role keys, to follow sessions and verify MACs "
        '(the public demo key is always tried)")',
        'vpump.prefs.tcp_port = Pref.uint("TCP port", 0, "decode this TCP port as vpump frames '
        '(pump-emulator serve --tcp); 0: only by Decode As")',
    ]


def generate() -> str:
    """The whole dissector, as Lua source."""
    emitter = _Emitter()
    framing = [
        'F["vpump.sync"] = ProtoField.bytes("vpump.sync", "SYNC")',
        'F["vpump.ver"] = ProtoField.uint8("vpump.ver", "VER", base.DEC)',
        'F["vpump.flags"] = ProtoField.uint8("vpump.flags", "FLAGS", base.HEX)',
    ]
    for flag in (Flags.RESPONSE, Flags.MAC, Flags.NOTIFY):
        assert flag.name is not None
        abbr = f"vpump.flags.{flag.name.lower()}"
        framing.append(
            f"F[{lua_string(abbr)}] = ProtoField.bool({lua_string(abbr)}, "
            f"{lua_string(flag.name)}, 8, nil, {int(flag):#04x}, {lua_string(_doc(flag))})"
        )
    framing += [
        'F["vpump.seq"] = ProtoField.uint16("vpump.seq", "SEQ", base.DEC)',
        'F["vpump.op"] = ProtoField.uint8("vpump.op", "OP", base.HEX, E.Op)',
        'F["vpump.len"] = ProtoField.uint16("vpump.len", "LEN", base.DEC)',
        'F["vpump.payload"] = ProtoField.bytes("vpump.payload", "PAYLOAD")',
        'F["vpump.mac"] = ProtoField.bytes("vpump.mac", "MAC", base.NONE, '
        '"first 16 bytes of HMAC-SHA256(session key, VER..PAYLOAD)")',
        'F["vpump.mac.status"] = ProtoField.uint8("vpump.mac.status", "MAC status", base.DEC, '
        '{[0]="Bad", [1]="Good", [2]="Unchecked"})',
        'F["vpump.crc"] = ProtoField.uint16("vpump.crc", "CRC", base.HEX)',
        'F["vpump.crc.status"] = ProtoField.uint8("vpump.crc.status", "CRC status", base.DEC, '
        '{[0]="Bad", [1]="Good"})',
        'F["vpump.junk"] = ProtoField.bytes("vpump.junk", "Undecodable bytes")',
        'F["vpump.direction"] = ProtoField.string("vpump.direction", "Direction")',
        'F["vpump.request_in"] = ProtoField.framenum("vpump.request_in", "Request in", '
        "base.NONE, frametype.REQUEST)",
        'F["vpump.response_in"] = ProtoField.framenum("vpump.response_in", "Response in", '
        "base.NONE, frametype.RESPONSE)",
    ]
    emitter.enum_ref(Op)
    message_lines = list(_messages(emitter))
    enum_lines = [_enum_table(cls) for _, cls in sorted(emitter.enums.items())]
    lines = [
        "-- vpump telemetry: a Wireshark dissector for pump-emulator captures (pcapng, DLT_USER0).",
        "-- Generated from the construct schemas by `python -m protocol.dissector` (`make docs`);",
        "-- do not edit. Use: wireshark -X lua_script:vpump.lua FILE.pcapng",
        "--   or: tshark -X lua_script:vpump.lua -r FILE.pcapng -V",
        "",
        'local vpump = Proto("vpump", "vpump pump telemetry")',
        f"local PROTOCOL_VERSION = {PROTOCOL_VERSION}",
        f"local MAX_PAYLOAD = {MAX_PAYLOAD}",
        f"local HEADER_SIZE = {frames.HEADER_SIZE}",
        f"local MAC_SIZE = {frames.MAC_SIZE}",
        f"local CRC_SIZE = {frames.CRC_SIZE}",
        f"local SYNC0, SYNC1 = {frames.SYNC[0]:#04x}, {frames.SYNC[1]:#04x}",
        f"local FLAG_RESPONSE, FLAG_MAC = {int(Flags.RESPONSE)}, {int(Flags.MAC)}",
        "-- pcapng packet flags: inbound (at the pump) and outbound",
        'local DIRECTIONS = {[1] = "to pump", [0] = "to programmer"}',
        'local f_interface_id = Field.new("frame.interface_id")',
        *_handshake_constants(),
        "",
        _crc_table(),
        "",
        "local E = {}",
        *enum_lines,
        "",
        "local F = {}",
        *framing,
        "-- ---- payload fields (vpump.<record>.<field>) ----",
        *emitter.fields,
        "",
        "local R = {}",
        "local MESSAGES = {}",
        "-- ---- payload descriptors: one table per record, walked from the schemas ----",
        *emitter.records,
        *message_lines,
        "",
        "local EX = {",
        '  bad_crc = ProtoExpert.new("vpump.crc.bad", "Bad CRC", expert.group.CHECKSUM, '
        "expert.severity.ERROR),",
        '  bad_mac = ProtoExpert.new("vpump.mac.bad", "Bad MAC", expert.group.CHECKSUM, '
        "expert.severity.ERROR),",
        '  bad_frame = ProtoExpert.new("vpump.frame.bad", "Invalid frame header", '
        "expert.group.MALFORMED, expert.severity.ERROR),",
        '  truncated = ProtoExpert.new("vpump.frame.truncated", "Truncated frame", '
        "expert.group.MALFORMED, expert.severity.WARN),",
        '  short = ProtoExpert.new("vpump.payload.short", "Payload too short", '
        "expert.group.MALFORMED, expert.severity.ERROR),",
        '  trailing = ProtoExpert.new("vpump.payload.trailing", "Bytes after the payload", '
        "expert.group.MALFORMED, expert.severity.WARN),",
        '  unknown_op = ProtoExpert.new("vpump.op.unknown", "Unknown opcode", '
        "expert.group.UNDECODED, expert.severity.WARN),",
        '  junk = ProtoExpert.new("vpump.junk.expert", "Bytes outside any frame", '
        "expert.group.UNDECODED, expert.severity.NOTE),",
        "}",
        "",
        "local all_fields = {}",
        "for _, f in pairs(F) do all_fields[#all_fields + 1] = f end",
        "vpump.fields = all_fields",
        "vpump.experts = {EX.bad_crc, EX.bad_mac, EX.bad_frame, EX.truncated, EX.short, "
        "EX.trailing, EX.unknown_op, EX.junk}",
        _RUNTIME.rstrip(),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Print the dissector to stdout."""
    print(generate(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
