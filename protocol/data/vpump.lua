-- vpump telemetry: a Wireshark dissector for pump-emulator captures (pcapng, DLT_USER0).
-- Generated from the construct schemas by `python -m protocol.dissector` (`make docs`);
-- do not edit. Use: wireshark -X lua_script:vpump.lua FILE.pcapng
--   or: tshark -X lua_script:vpump.lua -r FILE.pcapng -V

local vpump = Proto("vpump", "vpump pump telemetry")
local PROTOCOL_VERSION = 1
local MAX_PAYLOAD = 1024
local HEADER_SIZE = 9
local MAC_SIZE = 16
local CRC_SIZE = 2
local SYNC0, SYNC1 = 0xa5, 0x5a
local FLAG_RESPONSE, FLAG_MAC = 1, 2
-- pcapng packet flags: inbound (at the pump) and outbound
local DIRECTIONS = {[1] = "to pump", [0] = "to programmer"}
local f_interface_id = Field.new("frame.interface_id")
local OP_SESSION_OPEN = 2
local F_ROLE, F_CLIENT_NONCE = "role", "client_nonce"
local F_PUMP_NONCE, F_PUMP_PROOF = "pump_nonce", "pump_proof"
local LABEL_PUMP = "vpump/pump"
local LABEL_SESSION = "vpump/session"
local ROLE_IDS = {clinician = 1, patient = 2}
-- the documented, public demo key (protocol/data/demo.key): always tried
local DEMO_KEYS_HEX = {[1] = "d2aaea21c91f99ba9a8941bb8a6a95a6e256b7163a3c59c4a7b5b1a05f8cbcca", [2] = "df8bc11710aecb13eba2b4ffd37b1d86fcaf28d46c4359014c1d8cdaf6ba7de8"}
vpump.prefs.keys = Pref.string("Role keys", "", "clinician=<64 hex digits>, patient=<64 hex digits>: the pump's role keys, to follow sessions and verify MACs (the public demo key is always tried)")
vpump.prefs.tcp_port = Pref.uint("TCP port", 0, "decode this TCP port as vpump frames (pump-emulator serve --tcp); 0: only by Decode As")

local CRC_TABLE = {
  0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7, 0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
  0x1231, 0x0210, 0x3273, 0x2252, 0x52B5, 0x4294, 0x72F7, 0x62D6, 0x9339, 0x8318, 0xB37B, 0xA35A, 0xD3BD, 0xC39C, 0xF3FF, 0xE3DE,
  0x2462, 0x3443, 0x0420, 0x1401, 0x64E6, 0x74C7, 0x44A4, 0x5485, 0xA56A, 0xB54B, 0x8528, 0x9509, 0xE5EE, 0xF5CF, 0xC5AC, 0xD58D,
  0x3653, 0x2672, 0x1611, 0x0630, 0x76D7, 0x66F6, 0x5695, 0x46B4, 0xB75B, 0xA77A, 0x9719, 0x8738, 0xF7DF, 0xE7FE, 0xD79D, 0xC7BC,
  0x48C4, 0x58E5, 0x6886, 0x78A7, 0x0840, 0x1861, 0x2802, 0x3823, 0xC9CC, 0xD9ED, 0xE98E, 0xF9AF, 0x8948, 0x9969, 0xA90A, 0xB92B,
  0x5AF5, 0x4AD4, 0x7AB7, 0x6A96, 0x1A71, 0x0A50, 0x3A33, 0x2A12, 0xDBFD, 0xCBDC, 0xFBBF, 0xEB9E, 0x9B79, 0x8B58, 0xBB3B, 0xAB1A,
  0x6CA6, 0x7C87, 0x4CE4, 0x5CC5, 0x2C22, 0x3C03, 0x0C60, 0x1C41, 0xEDAE, 0xFD8F, 0xCDEC, 0xDDCD, 0xAD2A, 0xBD0B, 0x8D68, 0x9D49,
  0x7E97, 0x6EB6, 0x5ED5, 0x4EF4, 0x3E13, 0x2E32, 0x1E51, 0x0E70, 0xFF9F, 0xEFBE, 0xDFDD, 0xCFFC, 0xBF1B, 0xAF3A, 0x9F59, 0x8F78,
  0x9188, 0x81A9, 0xB1CA, 0xA1EB, 0xD10C, 0xC12D, 0xF14E, 0xE16F, 0x1080, 0x00A1, 0x30C2, 0x20E3, 0x5004, 0x4025, 0x7046, 0x6067,
  0x83B9, 0x9398, 0xA3FB, 0xB3DA, 0xC33D, 0xD31C, 0xE37F, 0xF35E, 0x02B1, 0x1290, 0x22F3, 0x32D2, 0x4235, 0x5214, 0x6277, 0x7256,
  0xB5EA, 0xA5CB, 0x95A8, 0x8589, 0xF56E, 0xE54F, 0xD52C, 0xC50D, 0x34E2, 0x24C3, 0x14A0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
  0xA7DB, 0xB7FA, 0x8799, 0x97B8, 0xE75F, 0xF77E, 0xC71D, 0xD73C, 0x26D3, 0x36F2, 0x0691, 0x16B0, 0x6657, 0x7676, 0x4615, 0x5634,
  0xD94C, 0xC96D, 0xF90E, 0xE92F, 0x99C8, 0x89E9, 0xB98A, 0xA9AB, 0x5844, 0x4865, 0x7806, 0x6827, 0x18C0, 0x08E1, 0x3882, 0x28A3,
  0xCB7D, 0xDB5C, 0xEB3F, 0xFB1E, 0x8BF9, 0x9BD8, 0xABBB, 0xBB9A, 0x4A75, 0x5A54, 0x6A37, 0x7A16, 0x0AF1, 0x1AD0, 0x2AB3, 0x3A92,
  0xFD2E, 0xED0F, 0xDD6C, 0xCD4D, 0xBDAA, 0xAD8B, 0x9DE8, 0x8DC9, 0x7C26, 0x6C07, 0x5C64, 0x4C45, 0x3CA2, 0x2C83, 0x1CE0, 0x0CC1,
  0xEF1F, 0xFF3E, 0xCF5D, 0xDF7C, 0xAF9B, 0xBFBA, 0x8FD9, 0x9FF8, 0x6E17, 0x7E36, 0x4E55, 0x5E74, 0x2E93, 0x3EB2, 0x0ED1, 0x1EF0,
}

local E = {}
E.AlarmClass = {[1]="NON_CRITICAL", [2]="CRITICAL"}
E.AlarmCode = {[0]="LOW_RESERVOIR", [1]="ERI", [2]="MEMORY_NON_CRITICAL", [3]="EMPTY_RESERVOIR", [4]="EOS", [5]="MOTOR_STALL", [6]="MEMORY_CRITICAL", [7]="LOW_BATTERY_RESET"}
E.BolusKind = {[0]="NONE", [1]="THERAPEUTIC", [2]="BRIDGE", [3]="PRIMING", [4]="PATIENT"}
E.ErrorCode = {[1]="MALFORMED", [2]="UNKNOWN_OPCODE", [3]="NO_SESSION", [4]="AUTH_FAILED", [5]="LOCKED_OUT", [6]="BAD_MAC", [7]="REPLAY", [8]="FORBIDDEN", [9]="SESSION_EXPIRED", [10]="BAD_HANDSHAKE", [16]="OUT_OF_RANGE", [17]="INVALID_STATE", [18]="CHECKSUM_MISMATCH", [19]="OVERFILL", [20]="CONDITION_PERSISTS", [21]="PATIENT_DOSE_LOCKOUT", [22]="PATIENT_DOSE_LIMIT", [23]="PUMP_HALTED", [24]="NOT_ENABLED", [25]="CONCENTRATION_MISMATCH", [32]="SESSION_DISPLACED", [33]="STORAGE_FAILED", [127]="INTERNAL"}
E.EventCode = {[1]="POWER_ON", [2]="PROGRAMMED", [3]="REFILLED", [4]="BOLUS_STARTED", [5]="BOLUS_ENDED", [6]="BOLUS_CANCELLED", [7]="ALARM_RAISED", [8]="ALARM_SILENCED", [9]="ALARM_CLEARED", [10]="MOTOR_STALL", [11]="STALL_RECOVERY", [12]="CLOCK_SET", [13]="STOPPED", [14]="RESUMED", [15]="ALARM_VOLUME_SET", [16]="PATIENT_DOSE_GRANTED", [17]="PATIENT_DOSE_REFUSED", [18]="PATIENT_SETTINGS_SET", [19]="DELIVERY_HALTED", [20]="BATTERY_SET", [21]="MEMORY_ERROR", [22]="SESSION_OPENED", [23]="SESSION_CLOSED", [24]="SECURITY", [25]="BRIDGE_STARTED", [26]="BRIDGE_ENDED", [27]="BRIDGE_CANCELLED", [28]="IMPLANT_RECORDED", [29]="LOW_BATTERY_RESET", [30]="VALVE_CLOSED", [31]="VALVE_RESET"}
E.Mode = {[0]="STOPPED", [1]="SIMPLE", [2]="FLEX", [3]="MINIMUM_RATE"}
E.Op = {[1]="DEVICE_INFO", [2]="SESSION_OPEN", [3]="SESSION_AUTH", [4]="SESSION_CLOSE", [8]="LIMITS", [16]="STATUS", [17]="READ_PRESCRIPTION", [18]="STAGE_PRESCRIPTION", [19]="COMMIT_PRESCRIPTION", [20]="READ_DELIVERY", [21]="READ_VALVE", [32]="START_BOLUS", [33]="CANCEL_BOLUS", [34]="STOP_PUMP", [35]="RESUME_PUMP", [36]="CANCEL_BRIDGE", [37]="RESET_VALVE", [48]="STAGE_REFILL", [49]="SET_ALARM_VOLUME", [50]="COMMIT_REFILL", [51]="READ_IMPLANT", [52]="SET_IMPLANT", [64]="READ_ALARMS", [65]="SILENCE_ALARM", [66]="CLEAR_ALARM", [80]="READ_EVENT_LOG", [96]="READ_CLOCK", [97]="SET_CLOCK", [112]="READ_PATIENT_SETTINGS", [113]="SET_PATIENT_SETTINGS", [114]="PATIENT_DOSE", [127]="NAK"}
E.Origin = {[0]="UNKNOWN", [1]="SPINAL", [2]="CEREBRAL"}
E.Role = {[1]="CLINICIAN", [2]="PATIENT"}
E.StopReason = {[0]="NONE", [1]="CLINICIAN_DECISION", [2]="MRI", [3]="CATHETER_REVISION", [4]="ADVERSE_EFFECT", [5]="OTHER"}
E.ValveModel = {[0]="MOTOR", [1]="VALVE_DISCHARGE", [2]="VALVE_FLOW_ACTIVATED"}

local F = {}
F["vpump.sync"] = ProtoField.bytes("vpump.sync", "SYNC")
F["vpump.ver"] = ProtoField.uint8("vpump.ver", "VER", base.DEC)
F["vpump.flags"] = ProtoField.uint8("vpump.flags", "FLAGS", base.HEX)
F["vpump.flags.response"] = ProtoField.bool("vpump.flags.response", "RESPONSE", 8, nil, 0x01, "FLAGS byte of a frame. Bits not named here must be zero.")
F["vpump.flags.mac"] = ProtoField.bool("vpump.flags.mac", "MAC", 8, nil, 0x02, "FLAGS byte of a frame. Bits not named here must be zero.")
F["vpump.flags.notify"] = ProtoField.bool("vpump.flags.notify", "NOTIFY", 8, nil, 0x04, "FLAGS byte of a frame. Bits not named here must be zero.")
F["vpump.seq"] = ProtoField.uint16("vpump.seq", "SEQ", base.DEC)
F["vpump.op"] = ProtoField.uint8("vpump.op", "OP", base.HEX, E.Op)
F["vpump.len"] = ProtoField.uint16("vpump.len", "LEN", base.DEC)
F["vpump.payload"] = ProtoField.bytes("vpump.payload", "PAYLOAD")
F["vpump.mac"] = ProtoField.bytes("vpump.mac", "MAC", base.NONE, "first 16 bytes of HMAC-SHA256(session key, VER..PAYLOAD)")
F["vpump.mac.status"] = ProtoField.uint8("vpump.mac.status", "MAC status", base.DEC, {[0]="Bad", [1]="Good", [2]="Unchecked"})
F["vpump.crc"] = ProtoField.uint16("vpump.crc", "CRC", base.HEX)
F["vpump.crc.status"] = ProtoField.uint8("vpump.crc.status", "CRC status", base.DEC, {[0]="Bad", [1]="Good"})
F["vpump.junk"] = ProtoField.bytes("vpump.junk", "Undecodable bytes")
F["vpump.direction"] = ProtoField.string("vpump.direction", "Direction")
F["vpump.request_in"] = ProtoField.framenum("vpump.request_in", "Request in", base.NONE, frametype.REQUEST)
F["vpump.response_in"] = ProtoField.framenum("vpump.response_in", "Response in", base.NONE, frametype.RESPONSE)
-- ---- payload fields (vpump.<record>.<field>) ----
F["vpump.device_info_response.model"] = ProtoField.uint8("vpump.device_info_response.model", "model", base.DEC, nil, nil, "reservoir size in mL names the model")
F["vpump.device_info_response.serial"] = ProtoField.string("vpump.device_info_response.serial", "serial", base.UNICODE, nil)
F["vpump.device_info_response.firmware_version"] = ProtoField.string("vpump.device_info_response.firmware_version", "firmware_version", base.UNICODE, nil)
F["vpump.device_info_response.capacity_nl"] = ProtoField.uint32("vpump.device_info_response.capacity_nl", "capacity_nl", base.DEC, nil, nil, nil)
F["vpump.device_info_response.protocol_version"] = ProtoField.uint8("vpump.device_info_response.protocol_version", "protocol_version", base.DEC, nil, nil, nil)
F["vpump.device_info_response.min_rate_nl_per_day"] = ProtoField.uint32("vpump.device_info_response.min_rate_nl_per_day", "min_rate_nl_per_day", base.DEC, nil, nil, "lowest programmable rate")
F["vpump.device_info_response.max_rate_nl_per_day"] = ProtoField.uint32("vpump.device_info_response.max_rate_nl_per_day", "max_rate_nl_per_day", base.DEC, nil, nil, "highest rate (boluses)")
F["vpump.device_info_response.minimum_mode_rate_nl_per_day"] = ProtoField.uint32("vpump.device_info_response.minimum_mode_rate_nl_per_day", "minimum_mode_rate_nl_per_day", base.DEC, nil, nil, "keep-open rate of MINIMUM_RATE mode")
F["vpump.device_info_response.empty_threshold_nl"] = ProtoField.uint32("vpump.device_info_response.empty_threshold_nl", "empty_threshold_nl", base.DEC, nil, nil, "at or below this the reservoir is empty")
F["vpump.device_info_response.tubing_volume_nl"] = ProtoField.uint32("vpump.device_info_response.tubing_volume_nl", "tubing_volume_nl", base.DEC, nil, nil, "dead volume of the pump's internal tubing")
F["vpump.device_info_response.catheter_volume_nl_per_cm"] = ProtoField.uint32("vpump.device_info_response.catheter_volume_nl_per_cm", "catheter_volume_nl_per_cm", base.DEC, nil, nil, "default catheter dead volume per cm (the implant record names its own)")
F["vpump.device_info_response.battery_capacity_uc"] = ProtoField.uint64("vpump.device_info_response.battery_capacity_uc", "battery_capacity_uc", base.DEC, nil, nil, "charge of a new battery, microcoulombs")
F["vpump.device_info_response.battery_quiescent_drain_uc_per_s"] = ProtoField.uint32("vpump.device_info_response.battery_quiescent_drain_uc_per_s", "battery_quiescent_drain_uc_per_s", base.DEC, nil, nil, "drain every second")
F["vpump.device_info_response.battery_drain_uc_per_nl"] = ProtoField.uint32("vpump.device_info_response.battery_drain_uc_per_nl", "battery_drain_uc_per_nl", base.DEC, nil, nil, "drain per nanolitre commanded")
F["vpump.device_info_response.battery_telemetry_drain_uc_per_s"] = ProtoField.uint32("vpump.device_info_response.battery_telemetry_drain_uc_per_s", "battery_telemetry_drain_uc_per_s", base.DEC, nil, nil, "drain per second of telemetry")
F["vpump.device_info_response.telemetry_s_per_frame"] = ProtoField.uint16("vpump.device_info_response.telemetry_s_per_frame", "telemetry_s_per_frame", base.DEC, nil, nil, "telemetry seconds charged per frame answered")
F["vpump.device_info_response.eri_lead_s"] = ProtoField.uint32("vpump.device_info_response.eri_lead_s", "eri_lead_s", base.DEC, nil, nil, "ERI holds while projected battery life is below this")
F["vpump.device_info_response.forecast_horizon_s"] = ProtoField.uint32("vpump.device_info_response.forecast_horizon_s", "forecast_horizon_s", base.DEC, nil, nil, "forecasts further ahead than this are none (0)")
F["vpump.device_info_response.min_bolus_volume_nl"] = ProtoField.uint32("vpump.device_info_response.min_bolus_volume_nl", "min_bolus_volume_nl", base.DEC, nil, nil, "smallest bolus or patient dose volume")
F["vpump.device_info_response.max_bolus_duration_s"] = ProtoField.uint32("vpump.device_info_response.max_bolus_duration_s", "max_bolus_duration_s", base.DEC, nil, nil, "longest therapeutic bolus")
F["vpump.session_open_request.role"] = ProtoField.uint8("vpump.session_open_request.role", "role", base.DEC, E.Role, nil, nil)
F["vpump.session_open_request.client_nonce"] = ProtoField.bytes("vpump.session_open_request.client_nonce", "client_nonce", base.NONE, nil)
F["vpump.session_open_response.pump_nonce"] = ProtoField.bytes("vpump.session_open_response.pump_nonce", "pump_nonce", base.NONE, nil)
F["vpump.session_open_response.pump_proof"] = ProtoField.bytes("vpump.session_open_response.pump_proof", "pump_proof", base.NONE, "HMAC-SHA256(K, 'vpump/pump' + role + cn + pn)")
F["vpump.session_auth_request.client_proof"] = ProtoField.bytes("vpump.session_auth_request.client_proof", "client_proof", base.NONE, "HMAC-SHA256(K, 'vpump/prog' + role + pn + cn)")
F["vpump.session_auth_response.role"] = ProtoField.uint8("vpump.session_auth_response.role", "role", base.DEC, E.Role, nil, nil)
F["vpump.session_auth_response.idle_timeout_s"] = ProtoField.uint16("vpump.session_auth_response.idle_timeout_s", "idle_timeout_s", base.DEC, nil, nil, "the session ends after this long without a request")
F["vpump.limits_response.min_alarm_volume_nl"] = ProtoField.uint32("vpump.limits_response.min_alarm_volume_nl", "min_alarm_volume_nl", base.DEC, nil, nil, "lowest low-reservoir alarm volume")
F["vpump.limits_response.max_alarm_volume_nl"] = ProtoField.uint32("vpump.limits_response.max_alarm_volume_nl", "max_alarm_volume_nl", base.DEC, nil, nil, "highest low-reservoir alarm volume")
F["vpump.limits_response.min_bolus_volume_nl"] = ProtoField.uint32("vpump.limits_response.min_bolus_volume_nl", "min_bolus_volume_nl", base.DEC, nil, nil, "smallest bolus (any kind)")
F["vpump.limits_response.max_bolus_volume_nl"] = ProtoField.uint32("vpump.limits_response.max_bolus_volume_nl", "max_bolus_volume_nl", base.DEC, nil, nil, "largest clinician bolus (the reservoir's capacity)")
F["vpump.limits_response.max_bolus_duration_s"] = ProtoField.uint32("vpump.limits_response.max_bolus_duration_s", "max_bolus_duration_s", base.DEC, nil, nil, "longest therapeutic bolus; the shortest runs just below the maximum rate")
F["vpump.limits_response.max_patient_dose_volume_nl"] = ProtoField.uint32("vpump.limits_response.max_patient_dose_volume_nl", "max_patient_dose_volume_nl", base.DEC, nil, nil, "largest patient-activated dose")
F["vpump.limits_response.min_patient_lockout_s"] = ProtoField.uint32("vpump.limits_response.min_patient_lockout_s", "min_patient_lockout_s", base.DEC, nil, nil, "shortest lockout between patient doses")
F["vpump.limits_response.max_patient_lockout_s"] = ProtoField.uint32("vpump.limits_response.max_patient_lockout_s", "max_patient_lockout_s", base.DEC, nil, nil, "longest lockout between patient doses")
F["vpump.limits_response.max_patient_doses_per_24h"] = ProtoField.uint8("vpump.limits_response.max_patient_doses_per_24h", "max_patient_doses_per_24h", base.DEC, nil, nil, "highest maximum of patient doses in 24 h")
F["vpump.limits_response.min_concentration_ug_per_ml"] = ProtoField.uint32("vpump.limits_response.min_concentration_ug_per_ml", "min_concentration_ug_per_ml", base.DEC, nil, nil, "lowest concentration with allow_nonstandard")
F["vpump.limits_response.max_concentration_ug_per_ml"] = ProtoField.uint32("vpump.limits_response.max_concentration_ug_per_ml", "max_concentration_ug_per_ml", base.DEC, nil, nil, "highest concentration with allow_nonstandard")
F["vpump.limits_response.standard_concentrations_ug_per_ml.count"] = ProtoField.uint8("vpump.limits_response.standard_concentrations_ug_per_ml.count", "standard_concentrations_ug_per_ml count", base.DEC)
F["vpump.limits_response.standard_concentrations_ug_per_ml"] = ProtoField.uint32("vpump.limits_response.standard_concentrations_ug_per_ml", "standard_concentrations_ug_per_ml", base.DEC, nil, nil, "accepted without allow_nonstandard")
F["vpump.limits_response.max_flex_steps"] = ProtoField.uint8("vpump.limits_response.max_flex_steps", "max_flex_steps", base.DEC, nil, nil, "steps in one flex day profile, at most")
F["vpump.limits_response.flex_step_granularity_min"] = ProtoField.uint8("vpump.limits_response.flex_step_granularity_min", "flex_step_granularity_min", base.DEC, nil, nil, "flex steps start on multiples of this")
F["vpump.status_response.clock_s"] = ProtoField.uint64("vpump.status_response.clock_s", "clock_s", base.DEC, nil, nil, "pump clock, Unix seconds")
F["vpump.status_response.mode"] = ProtoField.uint8("vpump.status_response.mode", "mode", base.DEC, E.Mode, nil, "STOPPED while therapy is stopped")
F["vpump.status_response.stop_reason"] = ProtoField.uint8("vpump.status_response.stop_reason", "stop_reason", base.DEC, E.StopReason, nil, "why STOP_PUMP stopped it")
F["vpump.status_response.delivering"] = ProtoField.uint8("vpump.status_response.delivering", "delivering", base.DEC, {[0]="false", [1]="true"}, nil, "drug is moving now")
F["vpump.status_response.halted_by"] = ProtoField.uint16("vpump.status_response.halted_by", "halted_by", base.HEX, nil, nil, "faults stopping delivery now")
F["vpump.status_response.halted_by.low_reservoir"] = ProtoField.bool("vpump.status_response.halted_by.low_reservoir", "LOW_RESERVOIR", 16, nil, 0x1)
F["vpump.status_response.halted_by.eri"] = ProtoField.bool("vpump.status_response.halted_by.eri", "ERI", 16, nil, 0x2)
F["vpump.status_response.halted_by.memory_non_critical"] = ProtoField.bool("vpump.status_response.halted_by.memory_non_critical", "MEMORY_NON_CRITICAL", 16, nil, 0x4)
F["vpump.status_response.halted_by.empty_reservoir"] = ProtoField.bool("vpump.status_response.halted_by.empty_reservoir", "EMPTY_RESERVOIR", 16, nil, 0x8)
F["vpump.status_response.halted_by.eos"] = ProtoField.bool("vpump.status_response.halted_by.eos", "EOS", 16, nil, 0x10)
F["vpump.status_response.halted_by.motor_stall"] = ProtoField.bool("vpump.status_response.halted_by.motor_stall", "MOTOR_STALL", 16, nil, 0x20)
F["vpump.status_response.halted_by.memory_critical"] = ProtoField.bool("vpump.status_response.halted_by.memory_critical", "MEMORY_CRITICAL", 16, nil, 0x40)
F["vpump.status_response.halted_by.low_battery_reset"] = ProtoField.bool("vpump.status_response.halted_by.low_battery_reset", "LOW_BATTERY_RESET", 16, nil, 0x80)
F["vpump.status_response.bolus_kind"] = ProtoField.uint8("vpump.status_response.bolus_kind", "bolus_kind", base.DEC, E.BolusKind, nil, "NONE when no bolus runs")
F["vpump.status_response.bolus_dose_ng"] = ProtoField.uint32("vpump.status_response.bolus_dose_ng", "bolus_dose_ng", base.DEC, nil, nil, "dose of the running bolus (0: priming, a volume)")
F["vpump.status_response.bolus_volume_nl"] = ProtoField.uint32("vpump.status_response.bolus_volume_nl", "bolus_volume_nl", base.DEC, nil, nil, "volume of the running bolus (its part since a bridge ended)")
F["vpump.status_response.bolus_duration_s"] = ProtoField.uint32("vpump.status_response.bolus_duration_s", "bolus_duration_s", base.DEC, nil, nil, nil)
F["vpump.status_response.bolus_started_at_s"] = ProtoField.uint64("vpump.status_response.bolus_started_at_s", "bolus_started_at_s", base.DEC, nil, nil, nil)
F["vpump.status_response.bolus_remaining_nl"] = ProtoField.uint32("vpump.status_response.bolus_remaining_nl", "bolus_remaining_nl", base.DEC, nil, nil, nil)
F["vpump.status_response.bolus_ends_at_s"] = ProtoField.uint64("vpump.status_response.bolus_ends_at_s", "bolus_ends_at_s", base.DEC, nil, nil, nil)
F["vpump.status_response.basal_rate_nl_per_day"] = ProtoField.uint32("vpump.status_response.basal_rate_nl_per_day", "basal_rate_nl_per_day", base.DEC, nil, nil, "the programmed basal rate at this instant")
F["vpump.status_response.current_rate_nl_per_day"] = ProtoField.uint32("vpump.status_response.current_rate_nl_per_day", "current_rate_nl_per_day", base.DEC, nil, nil, "what moves now (a bolus's mean rate; 0 if not)")
F["vpump.status_response.daily_dose_ng"] = ProtoField.uint32("vpump.status_response.daily_dose_ng", "daily_dose_ng", base.DEC, nil, nil, "today's basal dose over 24 h (00:00-24:00 pump clock)")
F["vpump.status_response.daily_volume_nl"] = ProtoField.uint32("vpump.status_response.daily_volume_nl", "daily_volume_nl", base.DEC, nil, nil, "today's basal volume over 24 h at the rates in force")
F["vpump.status_response.concentration_ug_per_ml"] = ProtoField.uint32("vpump.status_response.concentration_ug_per_ml", "concentration_ug_per_ml", base.DEC, nil, nil, "the drug in the reservoir")
F["vpump.status_response.bridge_remaining_nl"] = ProtoField.uint32("vpump.status_response.bridge_remaining_nl", "bridge_remaining_nl", base.DEC, nil, nil, "volume left to deliver at the old concentration")
F["vpump.status_response.bridge_concentration_ug_per_ml"] = ProtoField.uint32("vpump.status_response.bridge_concentration_ug_per_ml", "bridge_concentration_ug_per_ml", base.DEC, nil, nil, "the old drug the bridge computes at (0: none)")
F["vpump.status_response.bridge_ends_at_s"] = ProtoField.uint64("vpump.status_response.bridge_ends_at_s", "bridge_ends_at_s", base.DEC, nil, nil, "forecast end of the bridge")
F["vpump.status_response.basal_remainder"] = ProtoField.uint32("vpump.status_response.basal_remainder", "basal_remainder", base.DEC, nil, nil, "sub-nanolitre remainder of the basal integral (nL*s/day)")
F["vpump.status_response.reservoir_nl"] = ProtoField.uint32("vpump.status_response.reservoir_nl", "reservoir_nl", base.DEC, nil, nil, "estimated volume in the reservoir")
F["vpump.status_response.capacity_nl"] = ProtoField.uint32("vpump.status_response.capacity_nl", "capacity_nl", base.DEC, nil, nil, nil)
F["vpump.status_response.alarm_volume_nl"] = ProtoField.uint32("vpump.status_response.alarm_volume_nl", "alarm_volume_nl", base.DEC, nil, nil, "low-reservoir alarm volume")
F["vpump.status_response.alarms_active"] = ProtoField.uint16("vpump.status_response.alarms_active", "alarms_active", base.HEX, nil, nil, nil)
F["vpump.status_response.alarms_active.low_reservoir"] = ProtoField.bool("vpump.status_response.alarms_active.low_reservoir", "LOW_RESERVOIR", 16, nil, 0x1)
F["vpump.status_response.alarms_active.eri"] = ProtoField.bool("vpump.status_response.alarms_active.eri", "ERI", 16, nil, 0x2)
F["vpump.status_response.alarms_active.memory_non_critical"] = ProtoField.bool("vpump.status_response.alarms_active.memory_non_critical", "MEMORY_NON_CRITICAL", 16, nil, 0x4)
F["vpump.status_response.alarms_active.empty_reservoir"] = ProtoField.bool("vpump.status_response.alarms_active.empty_reservoir", "EMPTY_RESERVOIR", 16, nil, 0x8)
F["vpump.status_response.alarms_active.eos"] = ProtoField.bool("vpump.status_response.alarms_active.eos", "EOS", 16, nil, 0x10)
F["vpump.status_response.alarms_active.motor_stall"] = ProtoField.bool("vpump.status_response.alarms_active.motor_stall", "MOTOR_STALL", 16, nil, 0x20)
F["vpump.status_response.alarms_active.memory_critical"] = ProtoField.bool("vpump.status_response.alarms_active.memory_critical", "MEMORY_CRITICAL", 16, nil, 0x40)
F["vpump.status_response.alarms_active.low_battery_reset"] = ProtoField.bool("vpump.status_response.alarms_active.low_battery_reset", "LOW_BATTERY_RESET", 16, nil, 0x80)
F["vpump.status_response.alarms_silenced"] = ProtoField.uint16("vpump.status_response.alarms_silenced", "alarms_silenced", base.HEX, nil, nil, nil)
F["vpump.status_response.alarms_silenced.low_reservoir"] = ProtoField.bool("vpump.status_response.alarms_silenced.low_reservoir", "LOW_RESERVOIR", 16, nil, 0x1)
F["vpump.status_response.alarms_silenced.eri"] = ProtoField.bool("vpump.status_response.alarms_silenced.eri", "ERI", 16, nil, 0x2)
F["vpump.status_response.alarms_silenced.memory_non_critical"] = ProtoField.bool("vpump.status_response.alarms_silenced.memory_non_critical", "MEMORY_NON_CRITICAL", 16, nil, 0x4)
F["vpump.status_response.alarms_silenced.empty_reservoir"] = ProtoField.bool("vpump.status_response.alarms_silenced.empty_reservoir", "EMPTY_RESERVOIR", 16, nil, 0x8)
F["vpump.status_response.alarms_silenced.eos"] = ProtoField.bool("vpump.status_response.alarms_silenced.eos", "EOS", 16, nil, 0x10)
F["vpump.status_response.alarms_silenced.motor_stall"] = ProtoField.bool("vpump.status_response.alarms_silenced.motor_stall", "MOTOR_STALL", 16, nil, 0x20)
F["vpump.status_response.alarms_silenced.memory_critical"] = ProtoField.bool("vpump.status_response.alarms_silenced.memory_critical", "MEMORY_CRITICAL", 16, nil, 0x40)
F["vpump.status_response.alarms_silenced.low_battery_reset"] = ProtoField.bool("vpump.status_response.alarms_silenced.low_battery_reset", "LOW_BATTERY_RESET", 16, nil, 0x80)
F["vpump.status_response.low_reservoir_alarm_at_s"] = ProtoField.uint64("vpump.status_response.low_reservoir_alarm_at_s", "low_reservoir_alarm_at_s", base.DEC, nil, nil, nil)
F["vpump.status_response.empty_at_s"] = ProtoField.uint64("vpump.status_response.empty_at_s", "empty_at_s", base.DEC, nil, nil, nil)
F["vpump.status_response.battery_permille"] = ProtoField.uint16("vpump.status_response.battery_permille", "battery_permille", base.DEC, nil, nil, nil)
F["vpump.status_response.battery_uc"] = ProtoField.uint64("vpump.status_response.battery_uc", "battery_uc", base.DEC, nil, nil, "remaining battery charge, microcoulombs")
F["vpump.status_response.eri_at_s"] = ProtoField.uint64("vpump.status_response.eri_at_s", "eri_at_s", base.DEC, nil, nil, "elective replacement indicator date")
F["vpump.status_response.prescription_checksum"] = ProtoField.uint32("vpump.status_response.prescription_checksum", "prescription_checksum", base.DEC, nil, nil, "checksum of the active prescription")
F["vpump.status_response.recent_doses.count"] = ProtoField.uint8("vpump.status_response.recent_doses.count", "recent_doses count", base.DEC)
F["vpump.dose_grant.at_s"] = ProtoField.uint64("vpump.dose_grant.at_s", "at_s", base.DEC, nil, nil, "pump clock of the grant")
F["vpump.prescription.mode"] = ProtoField.uint8("vpump.prescription.mode", "mode", base.DEC, E.Mode, nil, nil)
F["vpump.prescription.concentration_ug_per_ml"] = ProtoField.uint32("vpump.prescription.concentration_ug_per_ml", "concentration_ug_per_ml", base.DEC, nil, nil, nil)
F["vpump.prescription_simple.dose_ng_per_day"] = ProtoField.uint32("vpump.prescription_simple.dose_ng_per_day", "dose_ng_per_day", base.DEC, nil, nil, nil)
F["vpump.prescription_flex.weekly"] = ProtoField.uint8("vpump.prescription_flex.weekly", "weekly", base.DEC, {[0]="false", [1]="true"}, nil, nil)
F["vpump.prescription_flex.profiles.count"] = ProtoField.uint8("vpump.prescription_flex.profiles.count", "profiles count", base.DEC)
F["vpump.flex_step.start_min"] = ProtoField.uint16("vpump.flex_step.start_min", "start_min", base.DEC, nil, nil, "minutes after midnight")
F["vpump.flex_step.dose_ng_per_day"] = ProtoField.uint32("vpump.flex_step.dose_ng_per_day", "dose_ng_per_day", base.DEC, nil, nil, "dose rate in ng/day (1 mcg/day = 1000)")
F["vpump.read_prescription_response.checksum"] = ProtoField.uint32("vpump.read_prescription_response.checksum", "checksum", base.DEC, nil, nil, "prescription_checksum(prescription)")
F["vpump.stage_prescription_response.checksum"] = ProtoField.uint32("vpump.stage_prescription_response.checksum", "checksum", base.DEC, nil, nil, nil)
F["vpump.commit_prescription_request.checksum"] = ProtoField.uint32("vpump.commit_prescription_request.checksum", "checksum", base.DEC, nil, nil, nil)
F["vpump.commit_prescription_response.checksum"] = ProtoField.uint32("vpump.commit_prescription_response.checksum", "checksum", base.DEC, nil, nil, nil)
F["vpump.read_delivery_response.delivering"] = ProtoField.uint8("vpump.read_delivery_response.delivering", "delivering", base.DEC, {[0]="false", [1]="true"}, nil, "drug is moving now (as STATUS)")
F["vpump.read_delivery_response.since_s"] = ProtoField.uint64("vpump.read_delivery_response.since_s", "since_s", base.DEC, nil, nil, "delivering since (or not delivering since), pump clock")
F["vpump.read_delivery_response.last_refill_at_s"] = ProtoField.uint64("vpump.read_delivery_response.last_refill_at_s", "last_refill_at_s", base.DEC, nil, nil, "pump clock of the last refill")
F["vpump.read_valve_response.valve_model"] = ProtoField.uint8("vpump.read_valve_response.valve_model", "valve_model", base.DEC, E.ValveModel, nil, "motor or valve model")
F["vpump.read_valve_response.closed"] = ProtoField.uint8("vpump.read_valve_response.closed", "closed", base.DEC, {[0]="false", [1]="true"}, nil, "a flow-activated valve closed: no delivery until RESET_VALVE")
F["vpump.read_valve_response.closed_since_s"] = ProtoField.uint64("vpump.read_valve_response.closed_since_s", "closed_since_s", base.DEC, nil, nil, "pump clock the valve closed")
F["vpump.start_bolus_request.kind"] = ProtoField.uint8("vpump.start_bolus_request.kind", "kind", base.DEC, E.BolusKind, nil, nil)
F["vpump.start_bolus_request.dose_ng"] = ProtoField.uint32("vpump.start_bolus_request.dose_ng", "dose_ng", base.DEC, nil, nil, "THERAPEUTIC: the dose (0 for PRIMING)")
F["vpump.start_bolus_request.volume_nl"] = ProtoField.uint32("vpump.start_bolus_request.volume_nl", "volume_nl", base.DEC, nil, nil, "PRIMING: the volume (0 for THERAPEUTIC)")
F["vpump.start_bolus_request.duration_s"] = ProtoField.uint32("vpump.start_bolus_request.duration_s", "duration_s", base.DEC, nil, nil, "THERAPEUTIC: over how long; PRIMING: 0 (maximum rate)")
F["vpump.start_bolus_response.dose_ng"] = ProtoField.uint32("vpump.start_bolus_response.dose_ng", "dose_ng", base.DEC, nil, nil, nil)
F["vpump.start_bolus_response.volume_nl"] = ProtoField.uint32("vpump.start_bolus_response.volume_nl", "volume_nl", base.DEC, nil, nil, nil)
F["vpump.start_bolus_response.duration_s"] = ProtoField.uint32("vpump.start_bolus_response.duration_s", "duration_s", base.DEC, nil, nil, nil)
F["vpump.start_bolus_response.ends_at_s"] = ProtoField.uint64("vpump.start_bolus_response.ends_at_s", "ends_at_s", base.DEC, nil, nil, nil)
F["vpump.cancel_bolus_response.delivered_nl"] = ProtoField.uint32("vpump.cancel_bolus_response.delivered_nl", "delivered_nl", base.DEC, nil, nil, nil)
F["vpump.stop_pump_request.reason"] = ProtoField.uint8("vpump.stop_pump_request.reason", "reason", base.DEC, E.StopReason, nil, nil)
F["vpump.resume_pump_response.mode"] = ProtoField.uint8("vpump.resume_pump_response.mode", "mode", base.DEC, E.Mode, nil, nil)
F["vpump.cancel_bridge_response.delivered_nl"] = ProtoField.uint32("vpump.cancel_bridge_response.delivered_nl", "delivered_nl", base.DEC, nil, nil, nil)
F["vpump.cancel_bridge_response.remaining_nl"] = ProtoField.uint32("vpump.cancel_bridge_response.remaining_nl", "remaining_nl", base.DEC, nil, nil, nil)
F["vpump.reset_valve_response.closed_for_s"] = ProtoField.uint32("vpump.reset_valve_response.closed_for_s", "closed_for_s", base.DEC, nil, nil, "seconds the valve was closed")
F["vpump.stage_refill_request.removed_nl"] = ProtoField.uint32("vpump.stage_refill_request.removed_nl", "removed_nl", base.DEC, nil, nil, "everything drawn out of the reservoir")
F["vpump.stage_refill_request.added_nl"] = ProtoField.uint32("vpump.stage_refill_request.added_nl", "added_nl", base.DEC, nil, nil, nil)
F["vpump.stage_refill_request.concentration_ug_per_ml"] = ProtoField.uint32("vpump.stage_refill_request.concentration_ug_per_ml", "concentration_ug_per_ml", base.DEC, nil, nil, "of the drug added")
F["vpump.stage_refill_request.allow_nonstandard"] = ProtoField.uint8("vpump.stage_refill_request.allow_nonstandard", "allow_nonstandard", base.DEC, {[0]="false", [1]="true"}, nil, "accept a concentration outside the standard ones")
F["vpump.stage_refill_request.bridge"] = ProtoField.uint8("vpump.stage_refill_request.bridge", "bridge", base.DEC, {[0]="false", [1]="true"}, nil, "run the bridge (required false when the concentration is kept)")
F["vpump.stage_refill_request.drug_lot"] = ProtoField.string("vpump.stage_refill_request.drug_lot", "drug_lot", base.UNICODE, "lot number of the drug added")
F["vpump.stage_refill_response.checksum"] = ProtoField.uint32("vpump.stage_refill_response.checksum", "checksum", base.DEC, nil, nil, nil)
F["vpump.stage_refill_response.expected_nl"] = ProtoField.uint32("vpump.stage_refill_response.expected_nl", "expected_nl", base.DEC, nil, nil, "volume the pump expects to be removed")
F["vpump.stage_refill_response.discrepancy_nl"] = ProtoField.int32("vpump.stage_refill_response.discrepancy_nl", "discrepancy_nl", base.DEC, nil, nil, "removed - expected")
F["vpump.stage_refill_response.discrepancy_flagged"] = ProtoField.uint8("vpump.stage_refill_response.discrepancy_flagged", "discrepancy_flagged", base.DEC, {[0]="false", [1]="true"}, nil, "over the model's threshold (possible pocket fill)")
F["vpump.stage_refill_response.bridge_volume_nl"] = ProtoField.uint32("vpump.stage_refill_response.bridge_volume_nl", "bridge_volume_nl", base.DEC, nil, nil, "dead volume the bridge runs for (0: no bridge)")
F["vpump.set_alarm_volume_request.volume_nl"] = ProtoField.uint32("vpump.set_alarm_volume_request.volume_nl", "volume_nl", base.DEC, nil, nil, nil)
F["vpump.set_alarm_volume_response.volume_nl"] = ProtoField.uint32("vpump.set_alarm_volume_response.volume_nl", "volume_nl", base.DEC, nil, nil, nil)
F["vpump.commit_refill_request.checksum"] = ProtoField.uint32("vpump.commit_refill_request.checksum", "checksum", base.DEC, nil, nil, nil)
F["vpump.commit_refill_response.expected_nl"] = ProtoField.uint32("vpump.commit_refill_response.expected_nl", "expected_nl", base.DEC, nil, nil, "volume the pump expected to be removed")
F["vpump.commit_refill_response.discrepancy_nl"] = ProtoField.int32("vpump.commit_refill_response.discrepancy_nl", "discrepancy_nl", base.DEC, nil, nil, "removed - expected")
F["vpump.commit_refill_response.discrepancy_flagged"] = ProtoField.uint8("vpump.commit_refill_response.discrepancy_flagged", "discrepancy_flagged", base.DEC, {[0]="false", [1]="true"}, nil, "over the model's threshold (possible pocket fill)")
F["vpump.commit_refill_response.reservoir_nl"] = ProtoField.uint32("vpump.commit_refill_response.reservoir_nl", "reservoir_nl", base.DEC, nil, nil, nil)
F["vpump.commit_refill_response.prescription_checksum"] = ProtoField.uint32("vpump.commit_refill_response.prescription_checksum", "prescription_checksum", base.DEC, nil, nil, "checksum of the prescription now running")
F["vpump.commit_refill_response.bridge_volume_nl"] = ProtoField.uint32("vpump.commit_refill_response.bridge_volume_nl", "bridge_volume_nl", base.DEC, nil, nil, "dead volume the bridge runs for (0: no bridge)")
F["vpump.commit_refill_response.bridge_ends_at_s"] = ProtoField.uint64("vpump.commit_refill_response.bridge_ends_at_s", "bridge_ends_at_s", base.DEC, nil, nil, "forecast end of the bridge")
F["vpump.commit_refill_response.low_reservoir_alarm_at_s"] = ProtoField.uint64("vpump.commit_refill_response.low_reservoir_alarm_at_s", "low_reservoir_alarm_at_s", base.DEC, nil, nil, nil)
F["vpump.read_implant_response.recorded"] = ProtoField.uint8("vpump.read_implant_response.recorded", "recorded", base.DEC, {[0]="false", [1]="true"}, nil, nil)
F["vpump.implant_fields.catheter_model"] = ProtoField.string("vpump.implant_fields.catheter_model", "catheter_model", base.UNICODE, nil)
F["vpump.implant_fields.catheter_volume_nl_per_cm"] = ProtoField.uint32("vpump.implant_fields.catheter_volume_nl_per_cm", "catheter_volume_nl_per_cm", base.DEC, nil, nil, "dead volume per cm of this catheter model")
F["vpump.implant_fields.catheter_length_mm"] = ProtoField.uint16("vpump.implant_fields.catheter_length_mm", "catheter_length_mm", base.DEC, nil, nil, "after trimming")
F["vpump.implant_fields.catheter_length_uncertainty_mm"] = ProtoField.uint16("vpump.implant_fields.catheter_length_uncertainty_mm", "catheter_length_uncertainty_mm", base.DEC, nil, nil, "+/- on the length (0: exact)")
F["vpump.implant_fields.implanted_at_s"] = ProtoField.uint64("vpump.implant_fields.implanted_at_s", "implanted_at_s", base.DEC, nil, nil, "implant date, pump clock")
F["vpump.implant_fields.patient_id"] = ProtoField.string("vpump.implant_fields.patient_id", "patient_id", base.UNICODE, nil)
F["vpump.implant_fields.origin"] = ProtoField.uint8("vpump.implant_fields.origin", "origin", base.DEC, E.Origin, nil, "of the spasticity")
F["vpump.implant_fields.physician"] = ProtoField.string("vpump.implant_fields.physician", "physician", base.UNICODE, nil)
F["vpump.read_implant_response.concentration_ug_per_ml"] = ProtoField.uint32("vpump.read_implant_response.concentration_ug_per_ml", "concentration_ug_per_ml", base.DEC, nil, nil, "the drug in the reservoir")
F["vpump.read_implant_response.drug_lot"] = ProtoField.string("vpump.read_implant_response.drug_lot", "drug_lot", base.UNICODE, nil)
F["vpump.read_implant_response.last_refill_at_s"] = ProtoField.uint64("vpump.read_implant_response.last_refill_at_s", "last_refill_at_s", base.DEC, nil, nil, "pump clock of the last refill")
F["vpump.read_alarms_response.alarms.count"] = ProtoField.uint8("vpump.read_alarms_response.alarms.count", "alarms count", base.DEC)
F["vpump.alarm_record.code"] = ProtoField.uint8("vpump.alarm_record.code", "code", base.DEC, E.AlarmCode, nil, nil)
F["vpump.alarm_record.alarm_class"] = ProtoField.uint8("vpump.alarm_record.alarm_class", "alarm_class", base.DEC, E.AlarmClass, nil, nil)
F["vpump.alarm_record.raised_at_s"] = ProtoField.uint64("vpump.alarm_record.raised_at_s", "raised_at_s", base.DEC, nil, nil, nil)
F["vpump.alarm_record.silenced"] = ProtoField.uint8("vpump.alarm_record.silenced", "silenced", base.DEC, {[0]="false", [1]="true"}, nil, nil)
F["vpump.alarm_record.condition_present"] = ProtoField.uint8("vpump.alarm_record.condition_present", "condition_present", base.DEC, {[0]="false", [1]="true"}, nil, nil)
F["vpump.silence_alarm_request.code"] = ProtoField.uint8("vpump.silence_alarm_request.code", "code", base.DEC, E.AlarmCode, nil, nil)
F["vpump.clear_alarm_request.code"] = ProtoField.uint8("vpump.clear_alarm_request.code", "code", base.DEC, E.AlarmCode, nil, nil)
F["vpump.read_event_log_request.first_index"] = ProtoField.uint32("vpump.read_event_log_request.first_index", "first_index", base.DEC, nil, nil, nil)
F["vpump.read_event_log_request.max_count"] = ProtoField.uint8("vpump.read_event_log_request.max_count", "max_count", base.DEC, nil, nil, nil)
F["vpump.read_event_log_response.total_written"] = ProtoField.uint32("vpump.read_event_log_response.total_written", "total_written", base.DEC, nil, nil, "entries written since the log was created")
F["vpump.read_event_log_response.overwritten"] = ProtoField.uint32("vpump.read_event_log_response.overwritten", "overwritten", base.DEC, nil, nil, "oldest entries lost to the ring buffer")
F["vpump.read_event_log_response.entries.count"] = ProtoField.uint8("vpump.read_event_log_response.entries.count", "entries count", base.DEC)
F["vpump.log_entry.index"] = ProtoField.uint32("vpump.log_entry.index", "index", base.DEC, nil, nil, "position in the log since it was created")
F["vpump.log_entry.clock_s"] = ProtoField.uint64("vpump.log_entry.clock_s", "clock_s", base.DEC, nil, nil, nil)
F["vpump.log_entry.code"] = ProtoField.uint16("vpump.log_entry.code", "code", base.DEC, E.EventCode, nil, nil)
F["vpump.log_entry.a"] = ProtoField.int32("vpump.log_entry.a", "a", base.DEC, nil, nil, nil)
F["vpump.log_entry.b"] = ProtoField.int32("vpump.log_entry.b", "b", base.DEC, nil, nil, nil)
F["vpump.read_clock_response.clock_s"] = ProtoField.uint64("vpump.read_clock_response.clock_s", "clock_s", base.DEC, nil, nil, nil)
F["vpump.set_clock_request.clock_s"] = ProtoField.uint64("vpump.set_clock_request.clock_s", "clock_s", base.DEC, nil, nil, nil)
F["vpump.set_clock_response.clock_s"] = ProtoField.uint64("vpump.set_clock_response.clock_s", "clock_s", base.DEC, nil, nil, nil)
F["vpump.read_patient_settings_response.enabled"] = ProtoField.uint8("vpump.read_patient_settings_response.enabled", "enabled", base.DEC, {[0]="false", [1]="true"}, nil, nil)
F["vpump.read_patient_settings_response.dose_ng"] = ProtoField.uint32("vpump.read_patient_settings_response.dose_ng", "dose_ng", base.DEC, nil, nil, "dose of one patient dose")
F["vpump.read_patient_settings_response.duration_s"] = ProtoField.uint32("vpump.read_patient_settings_response.duration_s", "duration_s", base.DEC, nil, nil, "time to deliver one dose")
F["vpump.read_patient_settings_response.lockout_s"] = ProtoField.uint32("vpump.read_patient_settings_response.lockout_s", "lockout_s", base.DEC, nil, nil, "minimum time between doses")
F["vpump.read_patient_settings_response.max_per_24h"] = ProtoField.uint8("vpump.read_patient_settings_response.max_per_24h", "max_per_24h", base.DEC, nil, nil, nil)
F["vpump.set_patient_settings_request.enabled"] = ProtoField.uint8("vpump.set_patient_settings_request.enabled", "enabled", base.DEC, {[0]="false", [1]="true"}, nil, nil)
F["vpump.set_patient_settings_request.dose_ng"] = ProtoField.uint32("vpump.set_patient_settings_request.dose_ng", "dose_ng", base.DEC, nil, nil, "dose of one patient dose")
F["vpump.set_patient_settings_request.duration_s"] = ProtoField.uint32("vpump.set_patient_settings_request.duration_s", "duration_s", base.DEC, nil, nil, "time to deliver one dose")
F["vpump.set_patient_settings_request.lockout_s"] = ProtoField.uint32("vpump.set_patient_settings_request.lockout_s", "lockout_s", base.DEC, nil, nil, "minimum time between doses")
F["vpump.set_patient_settings_request.max_per_24h"] = ProtoField.uint8("vpump.set_patient_settings_request.max_per_24h", "max_per_24h", base.DEC, nil, nil, nil)
F["vpump.set_patient_settings_response.enabled"] = ProtoField.uint8("vpump.set_patient_settings_response.enabled", "enabled", base.DEC, {[0]="false", [1]="true"}, nil, nil)
F["vpump.set_patient_settings_response.dose_ng"] = ProtoField.uint32("vpump.set_patient_settings_response.dose_ng", "dose_ng", base.DEC, nil, nil, "dose of one patient dose")
F["vpump.set_patient_settings_response.duration_s"] = ProtoField.uint32("vpump.set_patient_settings_response.duration_s", "duration_s", base.DEC, nil, nil, "time to deliver one dose")
F["vpump.set_patient_settings_response.lockout_s"] = ProtoField.uint32("vpump.set_patient_settings_response.lockout_s", "lockout_s", base.DEC, nil, nil, "minimum time between doses")
F["vpump.set_patient_settings_response.max_per_24h"] = ProtoField.uint8("vpump.set_patient_settings_response.max_per_24h", "max_per_24h", base.DEC, nil, nil, nil)
F["vpump.patient_dose_response.dose_ng"] = ProtoField.uint32("vpump.patient_dose_response.dose_ng", "dose_ng", base.DEC, nil, nil, nil)
F["vpump.patient_dose_response.volume_nl"] = ProtoField.uint32("vpump.patient_dose_response.volume_nl", "volume_nl", base.DEC, nil, nil, nil)
F["vpump.patient_dose_response.ends_at_s"] = ProtoField.uint64("vpump.patient_dose_response.ends_at_s", "ends_at_s", base.DEC, nil, nil, nil)
F["vpump.patient_dose_response.doses_in_24h"] = ProtoField.uint8("vpump.patient_dose_response.doses_in_24h", "doses_in_24h", base.DEC, nil, nil, "doses granted in the last 24 h, this one included")
F["vpump.patient_dose_response.next_allowed_at_s"] = ProtoField.uint64("vpump.patient_dose_response.next_allowed_at_s", "next_allowed_at_s", base.DEC, nil, nil, nil)
F["vpump.nak.code"] = ProtoField.uint8("vpump.nak.code", "code", base.DEC, E.ErrorCode, nil, nil)
F["vpump.nak.reason"] = ProtoField.string("vpump.nak.reason", "reason", base.UNICODE, nil)

local R = {}
local MESSAGES = {}
-- ---- payload descriptors: one table per record, walked from the schemas ----
R.DeviceInfoRequest = {name="DeviceInfoRequest", fields={
}}
R.DeviceInfoResponse = {name="DeviceInfoResponse", fields={
  {name="model", node={kind="uint", size=1, f=F["vpump.device_info_response.model"], unit=" mL", time=false, none_is_zero=false}},
  {name="serial", node={kind="text", f=F["vpump.device_info_response.serial"]}},
  {name="firmware_version", node={kind="text", f=F["vpump.device_info_response.firmware_version"]}},
  {name="capacity_nl", node={kind="uint", size=4, f=F["vpump.device_info_response.capacity_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="protocol_version", node={kind="uint", size=1, f=F["vpump.device_info_response.protocol_version"], unit=nil, time=false, none_is_zero=false}},
  {name="min_rate_nl_per_day", node={kind="uint", size=4, f=F["vpump.device_info_response.min_rate_nl_per_day"], unit=" nL/day", time=false, none_is_zero=false}},
  {name="max_rate_nl_per_day", node={kind="uint", size=4, f=F["vpump.device_info_response.max_rate_nl_per_day"], unit=" nL/day", time=false, none_is_zero=false}},
  {name="minimum_mode_rate_nl_per_day", node={kind="uint", size=4, f=F["vpump.device_info_response.minimum_mode_rate_nl_per_day"], unit=" nL/day", time=false, none_is_zero=false}},
  {name="empty_threshold_nl", node={kind="uint", size=4, f=F["vpump.device_info_response.empty_threshold_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="tubing_volume_nl", node={kind="uint", size=4, f=F["vpump.device_info_response.tubing_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="catheter_volume_nl_per_cm", node={kind="uint", size=4, f=F["vpump.device_info_response.catheter_volume_nl_per_cm"], unit=" nL/cm", time=false, none_is_zero=false}},
  {name="battery_capacity_uc", node={kind="uint", size=8, f=F["vpump.device_info_response.battery_capacity_uc"], unit=" uC", time=false, none_is_zero=false}},
  {name="battery_quiescent_drain_uc_per_s", node={kind="uint", size=4, f=F["vpump.device_info_response.battery_quiescent_drain_uc_per_s"], unit=" uC/s", time=false, none_is_zero=false}},
  {name="battery_drain_uc_per_nl", node={kind="uint", size=4, f=F["vpump.device_info_response.battery_drain_uc_per_nl"], unit=" uC/nL", time=false, none_is_zero=false}},
  {name="battery_telemetry_drain_uc_per_s", node={kind="uint", size=4, f=F["vpump.device_info_response.battery_telemetry_drain_uc_per_s"], unit=" uC/s", time=false, none_is_zero=false}},
  {name="telemetry_s_per_frame", node={kind="uint", size=2, f=F["vpump.device_info_response.telemetry_s_per_frame"], unit=" s per frame", time=false, none_is_zero=false}},
  {name="eri_lead_s", node={kind="uint", size=4, f=F["vpump.device_info_response.eri_lead_s"], unit=" s", time=false, none_is_zero=false}},
  {name="forecast_horizon_s", node={kind="uint", size=4, f=F["vpump.device_info_response.forecast_horizon_s"], unit=" s", time=false, none_is_zero=false}},
  {name="min_bolus_volume_nl", node={kind="uint", size=4, f=F["vpump.device_info_response.min_bolus_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="max_bolus_duration_s", node={kind="uint", size=4, f=F["vpump.device_info_response.max_bolus_duration_s"], unit=" s", time=false, none_is_zero=false}},
}}
R.SessionOpenRequest = {name="SessionOpenRequest", fields={
  {name="role", node={kind="enum", size=1, f=F["vpump.session_open_request.role"], names=E.Role}},
  {name="client_nonce", node={kind="bytes", size=16, f=F["vpump.session_open_request.client_nonce"]}},
}}
R.SessionOpenResponse = {name="SessionOpenResponse", fields={
  {name="pump_nonce", node={kind="bytes", size=16, f=F["vpump.session_open_response.pump_nonce"]}},
  {name="pump_proof", node={kind="bytes", size=32, f=F["vpump.session_open_response.pump_proof"]}},
}}
R.SessionAuthRequest = {name="SessionAuthRequest", fields={
  {name="client_proof", node={kind="bytes", size=32, f=F["vpump.session_auth_request.client_proof"]}},
}}
R.SessionAuthResponse = {name="SessionAuthResponse", fields={
  {name="role", node={kind="enum", size=1, f=F["vpump.session_auth_response.role"], names=E.Role}},
  {name="idle_timeout_s", node={kind="uint", size=2, f=F["vpump.session_auth_response.idle_timeout_s"], unit=" s", time=false, none_is_zero=false}},
}}
R.SessionCloseRequest = {name="SessionCloseRequest", fields={
}}
R.SessionCloseResponse = {name="SessionCloseResponse", fields={
}}
R.LimitsRequest = {name="LimitsRequest", fields={
}}
R.LimitsResponse = {name="LimitsResponse", fields={
  {name="min_alarm_volume_nl", node={kind="uint", size=4, f=F["vpump.limits_response.min_alarm_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="max_alarm_volume_nl", node={kind="uint", size=4, f=F["vpump.limits_response.max_alarm_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="min_bolus_volume_nl", node={kind="uint", size=4, f=F["vpump.limits_response.min_bolus_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="max_bolus_volume_nl", node={kind="uint", size=4, f=F["vpump.limits_response.max_bolus_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="max_bolus_duration_s", node={kind="uint", size=4, f=F["vpump.limits_response.max_bolus_duration_s"], unit=" s", time=false, none_is_zero=false}},
  {name="max_patient_dose_volume_nl", node={kind="uint", size=4, f=F["vpump.limits_response.max_patient_dose_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="min_patient_lockout_s", node={kind="uint", size=4, f=F["vpump.limits_response.min_patient_lockout_s"], unit=" s", time=false, none_is_zero=false}},
  {name="max_patient_lockout_s", node={kind="uint", size=4, f=F["vpump.limits_response.max_patient_lockout_s"], unit=" s", time=false, none_is_zero=false}},
  {name="max_patient_doses_per_24h", node={kind="uint", size=1, f=F["vpump.limits_response.max_patient_doses_per_24h"], unit=nil, time=false, none_is_zero=false}},
  {name="min_concentration_ug_per_ml", node={kind="uint", size=4, f=F["vpump.limits_response.min_concentration_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}},
  {name="max_concentration_ug_per_ml", node={kind="uint", size=4, f=F["vpump.limits_response.max_concentration_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}},
  {name="standard_concentrations_ug_per_ml", node={kind="array", count=F["vpump.limits_response.standard_concentrations_ug_per_ml.count"], element={kind="uint", size=4, f=F["vpump.limits_response.standard_concentrations_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}}},
  {name="max_flex_steps", node={kind="uint", size=1, f=F["vpump.limits_response.max_flex_steps"], unit=nil, time=false, none_is_zero=false}},
  {name="flex_step_granularity_min", node={kind="uint", size=1, f=F["vpump.limits_response.flex_step_granularity_min"], unit=" min", time=false, none_is_zero=false}},
}}
R.StatusRequest = {name="StatusRequest", fields={
}}
R.DoseGrant = {name="DoseGrant", fields={
  {name="at_s", node={kind="uint", size=8, f=F["vpump.dose_grant.at_s"], unit=nil, time=true, none_is_zero=false}},
}}
R.StatusResponse = {name="StatusResponse", fields={
  {name="clock_s", node={kind="uint", size=8, f=F["vpump.status_response.clock_s"], unit=nil, time=true, none_is_zero=false}},
  {name="mode", node={kind="enum", size=1, f=F["vpump.status_response.mode"], names=E.Mode}},
  {name="stop_reason", node={kind="enum", size=1, f=F["vpump.status_response.stop_reason"], names=E.StopReason}},
  {name="delivering", node={kind="bool", size=1, f=F["vpump.status_response.delivering"]}},
  {name="halted_by", node={kind="bits", size=2, f=F["vpump.status_response.halted_by"], names=E.AlarmCode, bits={F["vpump.status_response.halted_by.low_reservoir"], F["vpump.status_response.halted_by.eri"], F["vpump.status_response.halted_by.memory_non_critical"], F["vpump.status_response.halted_by.empty_reservoir"], F["vpump.status_response.halted_by.eos"], F["vpump.status_response.halted_by.motor_stall"], F["vpump.status_response.halted_by.memory_critical"], F["vpump.status_response.halted_by.low_battery_reset"]}}},
  {name="bolus_kind", node={kind="enum", size=1, f=F["vpump.status_response.bolus_kind"], names=E.BolusKind}},
  {name="bolus_dose_ng", node={kind="uint", size=4, f=F["vpump.status_response.bolus_dose_ng"], unit=" ng", time=false, none_is_zero=false}},
  {name="bolus_volume_nl", node={kind="uint", size=4, f=F["vpump.status_response.bolus_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="bolus_duration_s", node={kind="uint", size=4, f=F["vpump.status_response.bolus_duration_s"], unit=" s", time=false, none_is_zero=false}},
  {name="bolus_started_at_s", node={kind="uint", size=8, f=F["vpump.status_response.bolus_started_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="bolus_remaining_nl", node={kind="uint", size=4, f=F["vpump.status_response.bolus_remaining_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="bolus_ends_at_s", node={kind="uint", size=8, f=F["vpump.status_response.bolus_ends_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="basal_rate_nl_per_day", node={kind="uint", size=4, f=F["vpump.status_response.basal_rate_nl_per_day"], unit=" nL/day", time=false, none_is_zero=false}},
  {name="current_rate_nl_per_day", node={kind="uint", size=4, f=F["vpump.status_response.current_rate_nl_per_day"], unit=" nL/day", time=false, none_is_zero=false}},
  {name="daily_dose_ng", node={kind="uint", size=4, f=F["vpump.status_response.daily_dose_ng"], unit=" ng/day", time=false, none_is_zero=false}},
  {name="daily_volume_nl", node={kind="uint", size=4, f=F["vpump.status_response.daily_volume_nl"], unit=" nL/day", time=false, none_is_zero=false}},
  {name="concentration_ug_per_ml", node={kind="uint", size=4, f=F["vpump.status_response.concentration_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}},
  {name="bridge_remaining_nl", node={kind="uint", size=4, f=F["vpump.status_response.bridge_remaining_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="bridge_concentration_ug_per_ml", node={kind="uint", size=4, f=F["vpump.status_response.bridge_concentration_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}},
  {name="bridge_ends_at_s", node={kind="uint", size=8, f=F["vpump.status_response.bridge_ends_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="basal_remainder", node={kind="uint", size=4, f=F["vpump.status_response.basal_remainder"], unit=" nL*s/day", time=false, none_is_zero=false}},
  {name="reservoir_nl", node={kind="uint", size=4, f=F["vpump.status_response.reservoir_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="capacity_nl", node={kind="uint", size=4, f=F["vpump.status_response.capacity_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="alarm_volume_nl", node={kind="uint", size=4, f=F["vpump.status_response.alarm_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="alarms_active", node={kind="bits", size=2, f=F["vpump.status_response.alarms_active"], names=E.AlarmCode, bits={F["vpump.status_response.alarms_active.low_reservoir"], F["vpump.status_response.alarms_active.eri"], F["vpump.status_response.alarms_active.memory_non_critical"], F["vpump.status_response.alarms_active.empty_reservoir"], F["vpump.status_response.alarms_active.eos"], F["vpump.status_response.alarms_active.motor_stall"], F["vpump.status_response.alarms_active.memory_critical"], F["vpump.status_response.alarms_active.low_battery_reset"]}}},
  {name="alarms_silenced", node={kind="bits", size=2, f=F["vpump.status_response.alarms_silenced"], names=E.AlarmCode, bits={F["vpump.status_response.alarms_silenced.low_reservoir"], F["vpump.status_response.alarms_silenced.eri"], F["vpump.status_response.alarms_silenced.memory_non_critical"], F["vpump.status_response.alarms_silenced.empty_reservoir"], F["vpump.status_response.alarms_silenced.eos"], F["vpump.status_response.alarms_silenced.motor_stall"], F["vpump.status_response.alarms_silenced.memory_critical"], F["vpump.status_response.alarms_silenced.low_battery_reset"]}}},
  {name="low_reservoir_alarm_at_s", node={kind="uint", size=8, f=F["vpump.status_response.low_reservoir_alarm_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="empty_at_s", node={kind="uint", size=8, f=F["vpump.status_response.empty_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="battery_permille", node={kind="uint", size=2, f=F["vpump.status_response.battery_permille"], unit=" 1/1000", time=false, none_is_zero=false}},
  {name="battery_uc", node={kind="uint", size=8, f=F["vpump.status_response.battery_uc"], unit=" uC", time=false, none_is_zero=false}},
  {name="eri_at_s", node={kind="uint", size=8, f=F["vpump.status_response.eri_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="prescription_checksum", node={kind="uint", size=4, f=F["vpump.status_response.prescription_checksum"], unit=nil, time=false, none_is_zero=false}},
  {name="recent_doses", node={kind="array", count=F["vpump.status_response.recent_doses.count"], element={kind="record", rec=R.DoseGrant}}},
}}
R.ReadPrescriptionRequest = {name="ReadPrescriptionRequest", fields={
}}
R.PrescriptionSimple = {name="PrescriptionSimple", fields={
  {name="dose_ng_per_day", node={kind="uint", size=4, f=F["vpump.prescription_simple.dose_ng_per_day"], unit=" ng/day", time=false, none_is_zero=false}},
}}
R.FlexStep = {name="FlexStep", fields={
  {name="start_min", node={kind="uint", size=2, f=F["vpump.flex_step.start_min"], unit=" min after midnight", time=false, none_is_zero=false}},
  {name="dose_ng_per_day", node={kind="uint", size=4, f=F["vpump.flex_step.dose_ng_per_day"], unit=" ng/day", time=false, none_is_zero=false}},
}}
R.PrescriptionFlex = {name="PrescriptionFlex", fields={
  {name="weekly", node={kind="bool", size=1, f=F["vpump.prescription_flex.weekly"]}},
  {name="profiles", node={kind="array", count=F["vpump.prescription_flex.profiles.count"], element={kind="array", count=F["vpump.prescription_flex.profiles.count"], element={kind="record", rec=R.FlexStep}}}},
}}
R.Prescription = {name="Prescription", fields={
  {name="mode", node={kind="enum", size=1, f=F["vpump.prescription.mode"], names=E.Mode}},
  {name="concentration_ug_per_ml", node={kind="uint", size=4, f=F["vpump.prescription.concentration_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}},
  {name="params", node={kind="switch", on="mode", cases={[1]=R.PrescriptionSimple, [2]=R.PrescriptionFlex}}},
}}
R.ReadPrescriptionResponse = {name="ReadPrescriptionResponse", fields={
  {name="prescription", node={kind="record", rec=R.Prescription}},
  {name="checksum", node={kind="uint", size=4, f=F["vpump.read_prescription_response.checksum"], unit=nil, time=false, none_is_zero=false}},
}}
R.StagePrescriptionRequest = {name="StagePrescriptionRequest", fields={
  {name="prescription", node={kind="record", rec=R.Prescription}},
}}
R.StagePrescriptionResponse = {name="StagePrescriptionResponse", fields={
  {name="checksum", node={kind="uint", size=4, f=F["vpump.stage_prescription_response.checksum"], unit=nil, time=false, none_is_zero=false}},
}}
R.CommitPrescriptionRequest = {name="CommitPrescriptionRequest", fields={
  {name="checksum", node={kind="uint", size=4, f=F["vpump.commit_prescription_request.checksum"], unit=nil, time=false, none_is_zero=false}},
}}
R.CommitPrescriptionResponse = {name="CommitPrescriptionResponse", fields={
  {name="checksum", node={kind="uint", size=4, f=F["vpump.commit_prescription_response.checksum"], unit=nil, time=false, none_is_zero=false}},
}}
R.ReadDeliveryRequest = {name="ReadDeliveryRequest", fields={
}}
R.ReadDeliveryResponse = {name="ReadDeliveryResponse", fields={
  {name="delivering", node={kind="bool", size=1, f=F["vpump.read_delivery_response.delivering"]}},
  {name="since_s", node={kind="uint", size=8, f=F["vpump.read_delivery_response.since_s"], unit=nil, time=true, none_is_zero=false}},
  {name="last_refill_at_s", node={kind="uint", size=8, f=F["vpump.read_delivery_response.last_refill_at_s"], unit=nil, time=true, none_is_zero=true}},
}}
R.ReadValveRequest = {name="ReadValveRequest", fields={
}}
R.ReadValveResponse = {name="ReadValveResponse", fields={
  {name="valve_model", node={kind="enum", size=1, f=F["vpump.read_valve_response.valve_model"], names=E.ValveModel}},
  {name="closed", node={kind="bool", size=1, f=F["vpump.read_valve_response.closed"]}},
  {name="closed_since_s", node={kind="uint", size=8, f=F["vpump.read_valve_response.closed_since_s"], unit=nil, time=true, none_is_zero=true}},
}}
R.StartBolusRequest = {name="StartBolusRequest", fields={
  {name="kind", node={kind="enum", size=1, f=F["vpump.start_bolus_request.kind"], names=E.BolusKind}},
  {name="dose_ng", node={kind="uint", size=4, f=F["vpump.start_bolus_request.dose_ng"], unit=" ng", time=false, none_is_zero=false}},
  {name="volume_nl", node={kind="uint", size=4, f=F["vpump.start_bolus_request.volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="duration_s", node={kind="uint", size=4, f=F["vpump.start_bolus_request.duration_s"], unit=" s", time=false, none_is_zero=false}},
}}
R.StartBolusResponse = {name="StartBolusResponse", fields={
  {name="dose_ng", node={kind="uint", size=4, f=F["vpump.start_bolus_response.dose_ng"], unit=" ng", time=false, none_is_zero=false}},
  {name="volume_nl", node={kind="uint", size=4, f=F["vpump.start_bolus_response.volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="duration_s", node={kind="uint", size=4, f=F["vpump.start_bolus_response.duration_s"], unit=" s", time=false, none_is_zero=false}},
  {name="ends_at_s", node={kind="uint", size=8, f=F["vpump.start_bolus_response.ends_at_s"], unit=nil, time=true, none_is_zero=false}},
}}
R.CancelBolusRequest = {name="CancelBolusRequest", fields={
}}
R.CancelBolusResponse = {name="CancelBolusResponse", fields={
  {name="delivered_nl", node={kind="uint", size=4, f=F["vpump.cancel_bolus_response.delivered_nl"], unit=" nL", time=false, none_is_zero=false}},
}}
R.StopPumpRequest = {name="StopPumpRequest", fields={
  {name="reason", node={kind="enum", size=1, f=F["vpump.stop_pump_request.reason"], names=E.StopReason}},
}}
R.StopPumpResponse = {name="StopPumpResponse", fields={
}}
R.ResumePumpRequest = {name="ResumePumpRequest", fields={
}}
R.ResumePumpResponse = {name="ResumePumpResponse", fields={
  {name="mode", node={kind="enum", size=1, f=F["vpump.resume_pump_response.mode"], names=E.Mode}},
}}
R.CancelBridgeRequest = {name="CancelBridgeRequest", fields={
}}
R.CancelBridgeResponse = {name="CancelBridgeResponse", fields={
  {name="delivered_nl", node={kind="uint", size=4, f=F["vpump.cancel_bridge_response.delivered_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="remaining_nl", node={kind="uint", size=4, f=F["vpump.cancel_bridge_response.remaining_nl"], unit=" nL", time=false, none_is_zero=false}},
}}
R.ResetValveRequest = {name="ResetValveRequest", fields={
}}
R.ResetValveResponse = {name="ResetValveResponse", fields={
  {name="closed_for_s", node={kind="uint", size=4, f=F["vpump.reset_valve_response.closed_for_s"], unit=" s", time=false, none_is_zero=false}},
}}
R.StageRefillRequest = {name="StageRefillRequest", fields={
  {name="removed_nl", node={kind="uint", size=4, f=F["vpump.stage_refill_request.removed_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="added_nl", node={kind="uint", size=4, f=F["vpump.stage_refill_request.added_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="concentration_ug_per_ml", node={kind="uint", size=4, f=F["vpump.stage_refill_request.concentration_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}},
  {name="allow_nonstandard", node={kind="bool", size=1, f=F["vpump.stage_refill_request.allow_nonstandard"]}},
  {name="bridge", node={kind="bool", size=1, f=F["vpump.stage_refill_request.bridge"]}},
  {name="drug_lot", node={kind="text", f=F["vpump.stage_refill_request.drug_lot"]}},
  {name="prescription", node={kind="record", rec=R.Prescription}},
}}
R.StageRefillResponse = {name="StageRefillResponse", fields={
  {name="checksum", node={kind="uint", size=4, f=F["vpump.stage_refill_response.checksum"], unit=nil, time=false, none_is_zero=false}},
  {name="expected_nl", node={kind="uint", size=4, f=F["vpump.stage_refill_response.expected_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="discrepancy_nl", node={kind="int", size=4, f=F["vpump.stage_refill_response.discrepancy_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="discrepancy_flagged", node={kind="bool", size=1, f=F["vpump.stage_refill_response.discrepancy_flagged"]}},
  {name="bridge_volume_nl", node={kind="uint", size=4, f=F["vpump.stage_refill_response.bridge_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
}}
R.SetAlarmVolumeRequest = {name="SetAlarmVolumeRequest", fields={
  {name="volume_nl", node={kind="uint", size=4, f=F["vpump.set_alarm_volume_request.volume_nl"], unit=" nL", time=false, none_is_zero=false}},
}}
R.SetAlarmVolumeResponse = {name="SetAlarmVolumeResponse", fields={
  {name="volume_nl", node={kind="uint", size=4, f=F["vpump.set_alarm_volume_response.volume_nl"], unit=" nL", time=false, none_is_zero=false}},
}}
R.CommitRefillRequest = {name="CommitRefillRequest", fields={
  {name="checksum", node={kind="uint", size=4, f=F["vpump.commit_refill_request.checksum"], unit=nil, time=false, none_is_zero=false}},
}}
R.CommitRefillResponse = {name="CommitRefillResponse", fields={
  {name="expected_nl", node={kind="uint", size=4, f=F["vpump.commit_refill_response.expected_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="discrepancy_nl", node={kind="int", size=4, f=F["vpump.commit_refill_response.discrepancy_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="discrepancy_flagged", node={kind="bool", size=1, f=F["vpump.commit_refill_response.discrepancy_flagged"]}},
  {name="reservoir_nl", node={kind="uint", size=4, f=F["vpump.commit_refill_response.reservoir_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="prescription_checksum", node={kind="uint", size=4, f=F["vpump.commit_refill_response.prescription_checksum"], unit=nil, time=false, none_is_zero=false}},
  {name="bridge_volume_nl", node={kind="uint", size=4, f=F["vpump.commit_refill_response.bridge_volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="bridge_ends_at_s", node={kind="uint", size=8, f=F["vpump.commit_refill_response.bridge_ends_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="low_reservoir_alarm_at_s", node={kind="uint", size=8, f=F["vpump.commit_refill_response.low_reservoir_alarm_at_s"], unit=nil, time=true, none_is_zero=true}},
}}
R.ReadImplantRequest = {name="ReadImplantRequest", fields={
}}
R.ImplantFields = {name="ImplantFields", fields={
  {name="catheter_model", node={kind="text", f=F["vpump.implant_fields.catheter_model"]}},
  {name="catheter_volume_nl_per_cm", node={kind="uint", size=4, f=F["vpump.implant_fields.catheter_volume_nl_per_cm"], unit=" nL/cm", time=false, none_is_zero=false}},
  {name="catheter_length_mm", node={kind="uint", size=2, f=F["vpump.implant_fields.catheter_length_mm"], unit=" mm", time=false, none_is_zero=false}},
  {name="catheter_length_uncertainty_mm", node={kind="uint", size=2, f=F["vpump.implant_fields.catheter_length_uncertainty_mm"], unit=" mm", time=false, none_is_zero=false}},
  {name="implanted_at_s", node={kind="uint", size=8, f=F["vpump.implant_fields.implanted_at_s"], unit=nil, time=true, none_is_zero=true}},
  {name="patient_id", node={kind="text", f=F["vpump.implant_fields.patient_id"]}},
  {name="origin", node={kind="enum", size=1, f=F["vpump.implant_fields.origin"], names=E.Origin}},
  {name="physician", node={kind="text", f=F["vpump.implant_fields.physician"]}},
}}
R.ReadImplantResponse = {name="ReadImplantResponse", fields={
  {name="recorded", node={kind="bool", size=1, f=F["vpump.read_implant_response.recorded"]}},
  {name="implant", node={kind="record", rec=R.ImplantFields}},
  {name="concentration_ug_per_ml", node={kind="uint", size=4, f=F["vpump.read_implant_response.concentration_ug_per_ml"], unit=" mcg/mL", time=false, none_is_zero=false}},
  {name="drug_lot", node={kind="text", f=F["vpump.read_implant_response.drug_lot"]}},
  {name="last_refill_at_s", node={kind="uint", size=8, f=F["vpump.read_implant_response.last_refill_at_s"], unit=nil, time=true, none_is_zero=true}},
}}
R.SetImplantRequest = {name="SetImplantRequest", fields={
  {name="implant", node={kind="record", rec=R.ImplantFields}},
}}
R.SetImplantResponse = {name="SetImplantResponse", fields={
  {name="implant", node={kind="record", rec=R.ImplantFields}},
}}
R.ReadAlarmsRequest = {name="ReadAlarmsRequest", fields={
}}
R.AlarmRecord = {name="AlarmRecord", fields={
  {name="code", node={kind="enum", size=1, f=F["vpump.alarm_record.code"], names=E.AlarmCode}},
  {name="alarm_class", node={kind="enum", size=1, f=F["vpump.alarm_record.alarm_class"], names=E.AlarmClass}},
  {name="raised_at_s", node={kind="uint", size=8, f=F["vpump.alarm_record.raised_at_s"], unit=nil, time=true, none_is_zero=false}},
  {name="silenced", node={kind="bool", size=1, f=F["vpump.alarm_record.silenced"]}},
  {name="condition_present", node={kind="bool", size=1, f=F["vpump.alarm_record.condition_present"]}},
}}
R.ReadAlarmsResponse = {name="ReadAlarmsResponse", fields={
  {name="alarms", node={kind="array", count=F["vpump.read_alarms_response.alarms.count"], element={kind="record", rec=R.AlarmRecord}}},
}}
R.SilenceAlarmRequest = {name="SilenceAlarmRequest", fields={
  {name="code", node={kind="enum", size=1, f=F["vpump.silence_alarm_request.code"], names=E.AlarmCode}},
}}
R.SilenceAlarmResponse = {name="SilenceAlarmResponse", fields={
}}
R.ClearAlarmRequest = {name="ClearAlarmRequest", fields={
  {name="code", node={kind="enum", size=1, f=F["vpump.clear_alarm_request.code"], names=E.AlarmCode}},
}}
R.ClearAlarmResponse = {name="ClearAlarmResponse", fields={
}}
R.ReadEventLogRequest = {name="ReadEventLogRequest", fields={
  {name="first_index", node={kind="uint", size=4, f=F["vpump.read_event_log_request.first_index"], unit=nil, time=false, none_is_zero=false}},
  {name="max_count", node={kind="uint", size=1, f=F["vpump.read_event_log_request.max_count"], unit=nil, time=false, none_is_zero=false}},
}}
R.LogEntry = {name="LogEntry", fields={
  {name="index", node={kind="uint", size=4, f=F["vpump.log_entry.index"], unit=nil, time=false, none_is_zero=false}},
  {name="clock_s", node={kind="uint", size=8, f=F["vpump.log_entry.clock_s"], unit=nil, time=true, none_is_zero=false}},
  {name="code", node={kind="enum", size=2, f=F["vpump.log_entry.code"], names=E.EventCode}},
  {name="a", node={kind="int", size=4, f=F["vpump.log_entry.a"], unit=nil, time=false, none_is_zero=false}},
  {name="b", node={kind="int", size=4, f=F["vpump.log_entry.b"], unit=nil, time=false, none_is_zero=false}},
}}
R.ReadEventLogResponse = {name="ReadEventLogResponse", fields={
  {name="total_written", node={kind="uint", size=4, f=F["vpump.read_event_log_response.total_written"], unit=nil, time=false, none_is_zero=false}},
  {name="overwritten", node={kind="uint", size=4, f=F["vpump.read_event_log_response.overwritten"], unit=nil, time=false, none_is_zero=false}},
  {name="entries", node={kind="array", count=F["vpump.read_event_log_response.entries.count"], element={kind="record", rec=R.LogEntry}}},
}}
R.ReadClockRequest = {name="ReadClockRequest", fields={
}}
R.ReadClockResponse = {name="ReadClockResponse", fields={
  {name="clock_s", node={kind="uint", size=8, f=F["vpump.read_clock_response.clock_s"], unit=nil, time=true, none_is_zero=false}},
}}
R.SetClockRequest = {name="SetClockRequest", fields={
  {name="clock_s", node={kind="uint", size=8, f=F["vpump.set_clock_request.clock_s"], unit=nil, time=true, none_is_zero=false}},
}}
R.SetClockResponse = {name="SetClockResponse", fields={
  {name="clock_s", node={kind="uint", size=8, f=F["vpump.set_clock_response.clock_s"], unit=nil, time=true, none_is_zero=false}},
}}
R.ReadPatientSettingsRequest = {name="ReadPatientSettingsRequest", fields={
}}
R.ReadPatientSettingsResponse = {name="ReadPatientSettingsResponse", fields={
  {name="enabled", node={kind="bool", size=1, f=F["vpump.read_patient_settings_response.enabled"]}},
  {name="dose_ng", node={kind="uint", size=4, f=F["vpump.read_patient_settings_response.dose_ng"], unit=" ng", time=false, none_is_zero=false}},
  {name="duration_s", node={kind="uint", size=4, f=F["vpump.read_patient_settings_response.duration_s"], unit=" s", time=false, none_is_zero=false}},
  {name="lockout_s", node={kind="uint", size=4, f=F["vpump.read_patient_settings_response.lockout_s"], unit=" s", time=false, none_is_zero=false}},
  {name="max_per_24h", node={kind="uint", size=1, f=F["vpump.read_patient_settings_response.max_per_24h"], unit=nil, time=false, none_is_zero=false}},
}}
R.SetPatientSettingsRequest = {name="SetPatientSettingsRequest", fields={
  {name="enabled", node={kind="bool", size=1, f=F["vpump.set_patient_settings_request.enabled"]}},
  {name="dose_ng", node={kind="uint", size=4, f=F["vpump.set_patient_settings_request.dose_ng"], unit=" ng", time=false, none_is_zero=false}},
  {name="duration_s", node={kind="uint", size=4, f=F["vpump.set_patient_settings_request.duration_s"], unit=" s", time=false, none_is_zero=false}},
  {name="lockout_s", node={kind="uint", size=4, f=F["vpump.set_patient_settings_request.lockout_s"], unit=" s", time=false, none_is_zero=false}},
  {name="max_per_24h", node={kind="uint", size=1, f=F["vpump.set_patient_settings_request.max_per_24h"], unit=nil, time=false, none_is_zero=false}},
}}
R.SetPatientSettingsResponse = {name="SetPatientSettingsResponse", fields={
  {name="enabled", node={kind="bool", size=1, f=F["vpump.set_patient_settings_response.enabled"]}},
  {name="dose_ng", node={kind="uint", size=4, f=F["vpump.set_patient_settings_response.dose_ng"], unit=" ng", time=false, none_is_zero=false}},
  {name="duration_s", node={kind="uint", size=4, f=F["vpump.set_patient_settings_response.duration_s"], unit=" s", time=false, none_is_zero=false}},
  {name="lockout_s", node={kind="uint", size=4, f=F["vpump.set_patient_settings_response.lockout_s"], unit=" s", time=false, none_is_zero=false}},
  {name="max_per_24h", node={kind="uint", size=1, f=F["vpump.set_patient_settings_response.max_per_24h"], unit=nil, time=false, none_is_zero=false}},
}}
R.PatientDoseRequest = {name="PatientDoseRequest", fields={
}}
R.PatientDoseResponse = {name="PatientDoseResponse", fields={
  {name="dose_ng", node={kind="uint", size=4, f=F["vpump.patient_dose_response.dose_ng"], unit=" ng", time=false, none_is_zero=false}},
  {name="volume_nl", node={kind="uint", size=4, f=F["vpump.patient_dose_response.volume_nl"], unit=" nL", time=false, none_is_zero=false}},
  {name="ends_at_s", node={kind="uint", size=8, f=F["vpump.patient_dose_response.ends_at_s"], unit=nil, time=true, none_is_zero=false}},
  {name="doses_in_24h", node={kind="uint", size=1, f=F["vpump.patient_dose_response.doses_in_24h"], unit=nil, time=false, none_is_zero=false}},
  {name="next_allowed_at_s", node={kind="uint", size=8, f=F["vpump.patient_dose_response.next_allowed_at_s"], unit=nil, time=true, none_is_zero=false}},
}}
R.Nak = {name="Nak", fields={
  {name="code", node={kind="enum", size=1, f=F["vpump.nak.code"], names=E.ErrorCode}},
  {name="reason", node={kind="greedy_text", f=F["vpump.nak.reason"]}},
}}
MESSAGES[1] = {name="DEVICE_INFO", request=R.DeviceInfoRequest, response=R.DeviceInfoResponse}
MESSAGES[2] = {name="SESSION_OPEN", request=R.SessionOpenRequest, response=R.SessionOpenResponse}
MESSAGES[3] = {name="SESSION_AUTH", request=R.SessionAuthRequest, response=R.SessionAuthResponse}
MESSAGES[4] = {name="SESSION_CLOSE", request=R.SessionCloseRequest, response=R.SessionCloseResponse}
MESSAGES[8] = {name="LIMITS", request=R.LimitsRequest, response=R.LimitsResponse}
MESSAGES[16] = {name="STATUS", request=R.StatusRequest, response=R.StatusResponse}
MESSAGES[17] = {name="READ_PRESCRIPTION", request=R.ReadPrescriptionRequest, response=R.ReadPrescriptionResponse}
MESSAGES[18] = {name="STAGE_PRESCRIPTION", request=R.StagePrescriptionRequest, response=R.StagePrescriptionResponse}
MESSAGES[19] = {name="COMMIT_PRESCRIPTION", request=R.CommitPrescriptionRequest, response=R.CommitPrescriptionResponse}
MESSAGES[20] = {name="READ_DELIVERY", request=R.ReadDeliveryRequest, response=R.ReadDeliveryResponse}
MESSAGES[21] = {name="READ_VALVE", request=R.ReadValveRequest, response=R.ReadValveResponse}
MESSAGES[32] = {name="START_BOLUS", request=R.StartBolusRequest, response=R.StartBolusResponse}
MESSAGES[33] = {name="CANCEL_BOLUS", request=R.CancelBolusRequest, response=R.CancelBolusResponse}
MESSAGES[34] = {name="STOP_PUMP", request=R.StopPumpRequest, response=R.StopPumpResponse}
MESSAGES[35] = {name="RESUME_PUMP", request=R.ResumePumpRequest, response=R.ResumePumpResponse}
MESSAGES[36] = {name="CANCEL_BRIDGE", request=R.CancelBridgeRequest, response=R.CancelBridgeResponse}
MESSAGES[37] = {name="RESET_VALVE", request=R.ResetValveRequest, response=R.ResetValveResponse}
MESSAGES[48] = {name="STAGE_REFILL", request=R.StageRefillRequest, response=R.StageRefillResponse}
MESSAGES[49] = {name="SET_ALARM_VOLUME", request=R.SetAlarmVolumeRequest, response=R.SetAlarmVolumeResponse}
MESSAGES[50] = {name="COMMIT_REFILL", request=R.CommitRefillRequest, response=R.CommitRefillResponse}
MESSAGES[51] = {name="READ_IMPLANT", request=R.ReadImplantRequest, response=R.ReadImplantResponse}
MESSAGES[52] = {name="SET_IMPLANT", request=R.SetImplantRequest, response=R.SetImplantResponse}
MESSAGES[64] = {name="READ_ALARMS", request=R.ReadAlarmsRequest, response=R.ReadAlarmsResponse}
MESSAGES[65] = {name="SILENCE_ALARM", request=R.SilenceAlarmRequest, response=R.SilenceAlarmResponse}
MESSAGES[66] = {name="CLEAR_ALARM", request=R.ClearAlarmRequest, response=R.ClearAlarmResponse}
MESSAGES[80] = {name="READ_EVENT_LOG", request=R.ReadEventLogRequest, response=R.ReadEventLogResponse}
MESSAGES[96] = {name="READ_CLOCK", request=R.ReadClockRequest, response=R.ReadClockResponse}
MESSAGES[97] = {name="SET_CLOCK", request=R.SetClockRequest, response=R.SetClockResponse}
MESSAGES[112] = {name="READ_PATIENT_SETTINGS", request=R.ReadPatientSettingsRequest, response=R.ReadPatientSettingsResponse}
MESSAGES[113] = {name="SET_PATIENT_SETTINGS", request=R.SetPatientSettingsRequest, response=R.SetPatientSettingsResponse}
MESSAGES[114] = {name="PATIENT_DOSE", request=R.PatientDoseRequest, response=R.PatientDoseResponse}
MESSAGES[127] = {name="NAK", request=nil, response=R.Nak}

local EX = {
  bad_crc = ProtoExpert.new("vpump.crc.bad", "Bad CRC", expert.group.CHECKSUM, expert.severity.ERROR),
  bad_mac = ProtoExpert.new("vpump.mac.bad", "Bad MAC", expert.group.CHECKSUM, expert.severity.ERROR),
  bad_frame = ProtoExpert.new("vpump.frame.bad", "Invalid frame header", expert.group.MALFORMED, expert.severity.ERROR),
  truncated = ProtoExpert.new("vpump.frame.truncated", "Truncated frame", expert.group.MALFORMED, expert.severity.WARN),
  short = ProtoExpert.new("vpump.payload.short", "Payload too short", expert.group.MALFORMED, expert.severity.ERROR),
  trailing = ProtoExpert.new("vpump.payload.trailing", "Bytes after the payload", expert.group.MALFORMED, expert.severity.WARN),
  unknown_op = ProtoExpert.new("vpump.op.unknown", "Unknown opcode", expert.group.UNDECODED, expert.severity.WARN),
  junk = ProtoExpert.new("vpump.junk.expert", "Bytes outside any frame", expert.group.UNDECODED, expert.severity.NOTE),
}

local all_fields = {}
for _, f in pairs(F) do all_fields[#all_fields + 1] = f end
vpump.fields = all_fields
vpump.experts = {EX.bad_crc, EX.bad_mac, EX.bad_frame, EX.truncated, EX.short, EX.trailing, EX.unknown_op, EX.junk}

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
