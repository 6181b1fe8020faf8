# vpump telemetry: Kaitai Struct description, generated from the construct schemas
# by `python -m protocol.kaitai` (`make docs`); do not edit. Compile it with
# kaitai-struct-compiler (`make kaitai` emits C#, Java, C++ and JavaScript).
meta:
  id: vpump_wire
  title: vpump implantable pump telemetry
  license: MIT
  endian: be
doc: Frames of the vpump telemetry protocol, back to back (a capture of one direction of a link, or one
  frame). Generated from the construct schemas by `python -m protocol.kaitai` (`make docs`); do not edit.
seq:
- id: frames
  type: frame
  repeat: eos
types:
  frame:
    doc: 'One frame. The CRC (CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection) covers `crc_input`
      (VER to the end of the MAC); check it yourself.'
    seq:
    - id: sync
      contents:
      - 165
      - 90
    - id: ver
      type: u1
      valid: 1
    - id: flags
      type: u1
      doc: bit0 RESPONSE, bit1 MAC, bit2 NOTIFY
    - id: seq
      type: u2
      doc: chosen by the programmer; echoed by the answer
    - id: op
      type: u1
      doc: 'opcode (enum op: see `opcode`)'
    - id: len
      type: u2
      valid:
        max: 1024
    - id: payload
      size: len
      type:
        switch-on: 'op + (is_response ? 256 : 0)'
        cases:
          '0x002': session_open_request
          '0x003': session_auth_request
          '0x012': stage_prescription_request
          '0x013': commit_prescription_request
          '0x020': start_bolus_request
          '0x022': stop_pump_request
          '0x030': stage_refill_request
          '0x031': set_alarm_volume_request
          '0x032': commit_refill_request
          '0x034': set_implant_request
          '0x041': silence_alarm_request
          '0x042': clear_alarm_request
          '0x050': read_event_log_request
          '0x061': set_clock_request
          '0x071': set_patient_settings_request
          '0x101': device_info_response
          '0x102': session_open_response
          '0x103': session_auth_response
          '0x108': limits_response
          '0x110': status_response
          '0x111': read_prescription_response
          '0x112': stage_prescription_response
          '0x113': commit_prescription_response
          '0x114': read_delivery_response
          '0x115': read_valve_response
          '0x120': start_bolus_response
          '0x121': cancel_bolus_response
          '0x123': resume_pump_response
          '0x124': cancel_bridge_response
          '0x125': reset_valve_response
          '0x130': stage_refill_response
          '0x131': set_alarm_volume_response
          '0x132': commit_refill_response
          '0x133': read_implant_response
          '0x134': set_implant_response
          '0x140': read_alarms_response
          '0x150': read_event_log_response
          '0x160': read_clock_response
          '0x161': set_clock_response
          '0x170': read_patient_settings_response
          '0x171': set_patient_settings_response
          '0x172': patient_dose_response
          '0x17f': nak
      doc: typed by OP and the RESPONSE flag; raw bytes when that message has no fields or the opcode
        is unknown
    - id: mac
      size: 16
      if: has_mac
      doc: first 16 bytes of HMAC-SHA256(session key, VER .. end of PAYLOAD)
    - id: crc
      type: u2
    instances:
      is_response:
        value: (flags & 1) != 0
      has_mac:
        value: (flags & 2) != 0
      is_notify:
        value: (flags & 4) != 0
      opcode:
        value: op
        enum: op
      crc_input:
        pos: 2
        size: '7 + len + (has_mac ? 16 : 0)'
        doc: the bytes the CRC covers
  device_info_response:
    doc: Who the pump is and the limits of its model.
    seq:
    - id: model
      type: u1
      valid:
        any-of:
        - 20
        - 40
      doc: 'reservoir size in mL names the model; unit: mL'
    - id: len_serial
      type: u1
      valid:
        max: 16
    - id: serial
      type: str
      size: len_serial
      encoding: UTF-8
    - id: len_firmware_version
      type: u1
      valid:
        max: 16
    - id: firmware_version
      type: str
      size: len_firmware_version
      encoding: UTF-8
    - id: capacity_nl
      type: u4
      doc: 'unit: nL'
    - id: protocol_version
      type: u1
    - id: min_rate_nl_per_day
      type: u4
      doc: 'lowest programmable rate; unit: nL/day'
    - id: max_rate_nl_per_day
      type: u4
      doc: 'highest rate (boluses); unit: nL/day'
    - id: minimum_mode_rate_nl_per_day
      type: u4
      doc: 'keep-open rate of MINIMUM_RATE mode; unit: nL/day'
    - id: empty_threshold_nl
      type: u4
      doc: 'at or below this the reservoir is empty; unit: nL'
    - id: tubing_volume_nl
      type: u4
      doc: 'dead volume of the pump''s internal tubing; unit: nL'
    - id: catheter_volume_nl_per_cm
      type: u4
      doc: 'default catheter dead volume per cm (the implant record names its own); unit: nL/cm'
    - id: battery_capacity_uc
      type: u8
      doc: 'charge of a new battery, microcoulombs; unit: uC'
    - id: battery_quiescent_drain_uc_per_s
      type: u4
      doc: 'drain every second; unit: uC/s'
    - id: battery_drain_uc_per_nl
      type: u4
      doc: 'drain per nanolitre commanded; unit: uC/nL'
    - id: battery_telemetry_drain_uc_per_s
      type: u4
      doc: 'drain per second of telemetry; unit: uC/s'
    - id: telemetry_s_per_frame
      type: u2
      doc: 'telemetry seconds charged per frame answered; unit: s per frame'
    - id: eri_lead_s
      type: u4
      doc: 'ERI holds while projected battery life is below this; unit: s'
    - id: forecast_horizon_s
      type: u4
      doc: 'forecasts further ahead than this are none (0); unit: s'
    - id: min_bolus_volume_nl
      type: u4
      doc: 'smallest bolus or patient dose volume; unit: nL'
    - id: max_bolus_duration_s
      type: u4
      doc: 'longest therapeutic bolus; unit: s'
  session_open_request:
    doc: 'Handshake step 1: the role wanted and the programmer''s fresh nonce.'
    seq:
    - id: role
      type: u1
      enum: role
    - id: client_nonce
      size: 16
  session_open_response:
    doc: 'Handshake step 2: the pump''s fresh nonce and its proof of the role key.'
    seq:
    - id: pump_nonce
      size: 16
    - id: pump_proof
      size: 32
      doc: HMAC-SHA256(K, 'vpump/pump' + role + cn + pn)
  session_auth_request:
    doc: 'Handshake step 3: the programmer''s proof of the role key.'
    seq:
    - id: client_proof
      size: 32
      doc: HMAC-SHA256(K, 'vpump/prog' + role + pn + cn)
  session_auth_response:
    doc: 'Handshake step 4 (the first MAC''d frame): the session is open.'
    seq:
    - id: role
      type: u1
      enum: role
    - id: idle_timeout_s
      type: u2
      doc: 'the session ends after this long without a request; unit: s'
  limits_response:
    doc: The limits of this pump's model; rates and volumes of the model are in DEVICE_INFO. A value outside
      them is refused with OUT_OF_RANGE.
    seq:
    - id: min_alarm_volume_nl
      type: u4
      doc: 'lowest low-reservoir alarm volume; unit: nL'
    - id: max_alarm_volume_nl
      type: u4
      doc: 'highest low-reservoir alarm volume; unit: nL'
    - id: min_bolus_volume_nl
      type: u4
      doc: 'smallest bolus (any kind); unit: nL'
    - id: max_bolus_volume_nl
      type: u4
      doc: 'largest clinician bolus (the reservoir''s capacity); unit: nL'
    - id: max_bolus_duration_s
      type: u4
      doc: 'longest therapeutic bolus; the shortest runs just below the maximum rate; unit: s'
    - id: max_patient_dose_volume_nl
      type: u4
      doc: 'largest patient-activated dose; unit: nL'
    - id: min_patient_lockout_s
      type: u4
      doc: 'shortest lockout between patient doses; unit: s'
    - id: max_patient_lockout_s
      type: u4
      doc: 'longest lockout between patient doses; unit: s'
    - id: max_patient_doses_per_24h
      type: u1
      doc: highest maximum of patient doses in 24 h
    - id: min_concentration_ug_per_ml
      type: u4
      doc: 'lowest concentration with allow_nonstandard; unit: mcg/mL'
    - id: max_concentration_ug_per_ml
      type: u4
      doc: 'highest concentration with allow_nonstandard; unit: mcg/mL'
    - id: num_standard_concentrations_ug_per_ml
      type: u1
      valid:
        max: 16
    - id: standard_concentrations_ug_per_ml
      repeat: expr
      repeat-expr: num_standard_concentrations_ug_per_ml
      type: u4
      doc: 'accepted without allow_nonstandard; unit: mcg/mL'
    - id: max_flex_steps
      type: u1
      doc: steps in one flex day profile, at most
    - id: flex_step_granularity_min
      type: u1
      doc: 'flex steps start on multiples of this; unit: min'
  status_response:
    doc: 'The pump''s state and forecasts at ``clock_s``. ``mode`` is STOPPED whenever the clinician stopped
      therapy (STOP_PUMP, with ``stop_reason``, or a committed STOPPED prescription, with ``stop_reason``
      NONE). ``delivering`` is true only while drug moves: never in STOPPED, and false while a fault halts
      delivery (``halted_by``: empty reservoir, end of service, motor stall, critical memory error); a
      fault''s recovery restores delivery by itself without touching the mode. Every ``*_at_s`` is pump
      clock; the forecasts follow :mod:`protocol.forecast` and a programmer that runs it on this STATUS
      (with READ_PRESCRIPTION, READ_PATIENT_SETTINGS and DEVICE_INFO) gets the same seconds.'
    seq:
    - id: clock_s
      type: u8
      doc: 'pump clock, Unix seconds; unit: s (Unix time)'
    - id: mode
      type: u1
      enum: mode
      doc: STOPPED while therapy is stopped
    - id: stop_reason
      type: u1
      enum: stop_reason
      doc: why STOP_PUMP stopped it
    - id: delivering
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'drug is moving now; boolean: 0 false, 1 true'
    - id: halted_by
      type: u2
      doc: 'faults stopping delivery now; bit n set: AlarmCode n is in the set (enum alarm_code)'
    - id: bolus_kind
      type: u1
      enum: bolus_kind
      doc: NONE when no bolus runs
    - id: bolus_dose_ng
      type: u4
      doc: 'dose of the running bolus (0: priming, a volume); unit: ng'
    - id: bolus_volume_nl
      type: u4
      doc: 'volume of the running bolus (its part since a bridge ended); unit: nL'
    - id: bolus_duration_s
      type: u4
      doc: 'unit: s'
    - id: bolus_started_at_s
      type: u8
      doc: 'unit: s (Unix time); pump time in Unix seconds; 0 means none'
    - id: bolus_remaining_nl
      type: u4
      doc: 'unit: nL'
    - id: bolus_ends_at_s
      type: u8
      doc: 'unit: s (Unix time); pump time in Unix seconds; 0 means none'
    - id: basal_rate_nl_per_day
      type: u4
      doc: 'the programmed basal rate at this instant; unit: nL/day'
    - id: current_rate_nl_per_day
      type: u4
      doc: 'what moves now (a bolus''s mean rate; 0 if not); unit: nL/day'
    - id: daily_dose_ng
      type: u4
      doc: 'today''s basal dose over 24 h (00:00-24:00 pump clock); unit: ng/day'
    - id: daily_volume_nl
      type: u4
      doc: 'today''s basal volume over 24 h at the rates in force; unit: nL/day'
    - id: concentration_ug_per_ml
      type: u4
      doc: 'the drug in the reservoir; unit: mcg/mL'
    - id: bridge_remaining_nl
      type: u4
      doc: 'volume left to deliver at the old concentration; unit: nL'
    - id: bridge_concentration_ug_per_ml
      type: u4
      doc: 'the old drug the bridge computes at (0: none); unit: mcg/mL'
    - id: bridge_ends_at_s
      type: u8
      doc: 'forecast end of the bridge; unit: s (Unix time); pump time in Unix seconds; 0 means none'
    - id: basal_remainder
      type: u4
      doc: 'sub-nanolitre remainder of the basal integral (nL*s/day); unit: nL*s/day'
    - id: reservoir_nl
      type: u4
      doc: 'estimated volume in the reservoir; unit: nL'
    - id: capacity_nl
      type: u4
      doc: 'unit: nL'
    - id: alarm_volume_nl
      type: u4
      doc: 'low-reservoir alarm volume; unit: nL'
    - id: alarms_active
      type: u2
      doc: 'bit n set: AlarmCode n is in the set (enum alarm_code)'
    - id: alarms_silenced
      type: u2
      doc: 'bit n set: AlarmCode n is in the set (enum alarm_code)'
    - id: low_reservoir_alarm_at_s
      type: u8
      doc: 'unit: s (Unix time); pump time in Unix seconds; 0 means none'
    - id: empty_at_s
      type: u8
      doc: 'unit: s (Unix time); pump time in Unix seconds; 0 means none'
    - id: battery_permille
      type: u2
      valid:
        min: 0
        max: 1000
      doc: 'unit: 1/1000'
    - id: battery_uc
      type: u8
      doc: 'remaining battery charge, microcoulombs; unit: uC'
    - id: eri_at_s
      type: u8
      doc: 'elective replacement indicator date; unit: s (Unix time); pump time in Unix seconds; 0 means
        none'
    - id: prescription_checksum
      type: u4
      doc: checksum of the active prescription
    - id: num_recent_doses
      type: u1
      valid:
        max: 48
    - id: recent_doses
      repeat: expr
      repeat-expr: num_recent_doses
      type: dose_grant
      doc: patient doses granted in the last 24 h, oldest first
  dose_grant:
    seq:
    - id: at_s
      type: u8
      doc: 'pump clock of the grant; unit: s (Unix time)'
  read_prescription_response:
    doc: The active prescription and its checksum.
    seq:
    - id: prescription
      type: prescription
    - id: checksum
      type: u4
      doc: prescription_checksum(prescription)
  prescription:
    seq:
    - id: mode
      type: u1
      enum: mode
    - id: concentration_ug_per_ml
      type: u4
      doc: 'unit: mcg/mL'
    - id: params
      type:
        switch-on: mode
        cases:
          mode::simple: prescription_simple
          mode::flex: prescription_flex
      doc: by mode; other values carry nothing
  prescription_simple:
    seq:
    - id: dose_ng_per_day
      type: u4
      doc: 'unit: ng/day'
  prescription_flex:
    seq:
    - id: weekly
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'boolean: 0 false, 1 true'
    - id: num_profiles
      type: u1
    - id: profiles
      repeat: expr
      repeat-expr: num_profiles
      type: prescription_flex_profiles_item
  prescription_flex_profiles_item:
    seq:
    - id: num_items
      type: u1
    - id: items
      repeat: expr
      repeat-expr: num_items
      type: flex_step
  flex_step:
    seq:
    - id: start_min
      type: u2
      valid:
        min: 0
        max: 1439
      doc: 'minutes after midnight; unit: min after midnight'
    - id: dose_ng_per_day
      type: u4
      doc: 'dose rate in ng/day (1 mcg/day = 1000); unit: ng/day'
  stage_prescription_request:
    doc: Stage a prescription (not yet running) for COMMIT.
    seq:
    - id: prescription
      type: prescription
  stage_prescription_response:
    doc: The checksum of what the pump staged, to compare before COMMIT.
    seq:
    - id: checksum
      type: u4
  commit_prescription_request:
    doc: Run the staged prescription, named by its checksum.
    seq:
    - id: checksum
      type: u4
  commit_prescription_response:
    doc: The checksum of the prescription now running.
    seq:
    - id: checksum
      type: u4
  read_delivery_response:
    doc: Delivering now or not, since which pump-clock second, and the last refill.
    seq:
    - id: delivering
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'drug is moving now (as STATUS); boolean: 0 false, 1 true'
    - id: since_s
      type: u8
      doc: 'delivering since (or not delivering since), pump clock; unit: s (Unix time)'
    - id: last_refill_at_s
      type: u8
      doc: 'pump clock of the last refill; unit: s (Unix time); pump time in Unix seconds; 0 means none'
  read_valve_response:
    doc: The pump's valve model and the state of its flow-activated valve.
    seq:
    - id: valve_model
      type: u1
      enum: valve_model
      doc: motor or valve model
    - id: closed
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'a flow-activated valve closed: no delivery until RESET_VALVE; boolean: 0 false, 1 true'
    - id: closed_since_s
      type: u8
      doc: 'pump clock the valve closed; unit: s (Unix time); pump time in Unix seconds; 0 means none'
  start_bolus_request:
    doc: 'Start a bolus: THERAPEUTIC, a dose (``dose_ng``) over ``duration_s``; PRIMING, a volume (``volume_nl``)
      at the maximum rate (``duration_s`` 0). The other field is 0.'
    seq:
    - id: kind
      type: u1
      enum: bolus_kind
    - id: dose_ng
      type: u4
      doc: 'THERAPEUTIC: the dose (0 for PRIMING); unit: ng'
    - id: volume_nl
      type: u4
      doc: 'PRIMING: the volume (0 for THERAPEUTIC); unit: nL'
    - id: duration_s
      type: u4
      doc: 'THERAPEUTIC: over how long; PRIMING: 0 (maximum rate); unit: s'
  start_bolus_response:
    doc: The bolus as the pump will deliver it (its volume at the concentration in force).
    seq:
    - id: dose_ng
      type: u4
      doc: 'unit: ng'
    - id: volume_nl
      type: u4
      doc: 'unit: nL'
    - id: duration_s
      type: u4
      doc: 'unit: s'
    - id: ends_at_s
      type: u8
      doc: 'unit: s (Unix time)'
  cancel_bolus_response:
    doc: What the cancelled bolus had delivered.
    seq:
    - id: delivered_nl
      type: u4
      doc: 'unit: nL'
  stop_pump_request:
    doc: Stop delivery, with the reason for the event log.
    seq:
    - id: reason
      type: u1
      enum: stop_reason
  resume_pump_response:
    doc: The mode now running.
    seq:
    - id: mode
      type: u1
      enum: mode
  cancel_bridge_response:
    doc: What the cancelled bridge had delivered and what it left.
    seq:
    - id: delivered_nl
      type: u4
      doc: 'unit: nL'
    - id: remaining_nl
      type: u4
      doc: 'unit: nL'
  reset_valve_response:
    doc: How long the valve had been closed (no drug delivered).
    seq:
    - id: closed_for_s
      type: u4
      doc: 'seconds the valve was closed; unit: s'
  stage_refill_request:
    doc: 'Stage a refill as one transaction: the reservoir emptied (``removed_nl``) and refilled (``added_nl``
      of ``concentration_ug_per_ml``), the prescription to run on the new drug (it must name the new concentration)
      and, when the concentration changes, whether to bridge. Nothing changes until COMMIT_REFILL names
      the checksum.'
    seq:
    - id: removed_nl
      type: u4
      doc: 'everything drawn out of the reservoir; unit: nL'
    - id: added_nl
      type: u4
      doc: 'unit: nL'
    - id: concentration_ug_per_ml
      type: u4
      doc: 'of the drug added; unit: mcg/mL'
    - id: allow_nonstandard
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'accept a concentration outside the standard ones; boolean: 0 false, 1 true'
    - id: bridge
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'run the bridge (required false when the concentration is kept); boolean: 0 false, 1 true'
    - id: len_drug_lot
      type: u1
      valid:
        max: 16
    - id: drug_lot
      type: str
      size: len_drug_lot
      encoding: UTF-8
      doc: lot number of the drug added
    - id: prescription
      type: prescription
  stage_refill_response:
    doc: 'The staged refill: its checksum (crc32 of the request payload) and what it will do.'
    seq:
    - id: checksum
      type: u4
    - id: expected_nl
      type: u4
      doc: 'volume the pump expects to be removed; unit: nL'
    - id: discrepancy_nl
      type: s4
      doc: 'removed - expected; unit: nL'
    - id: discrepancy_flagged
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'over the model''s threshold (possible pocket fill); boolean: 0 false, 1 true'
    - id: bridge_volume_nl
      type: u4
      doc: 'dead volume the bridge runs for (0: no bridge); unit: nL'
  set_alarm_volume_request:
    doc: Set the low-reservoir alarm volume.
    seq:
    - id: volume_nl
      type: u4
      doc: 'unit: nL'
  set_alarm_volume_response:
    doc: The alarm volume now set.
    seq:
    - id: volume_nl
      type: u4
      doc: 'unit: nL'
  commit_refill_request:
    doc: Apply the staged refill, named by its checksum, all at once.
    seq:
    - id: checksum
      type: u4
  commit_refill_response:
    doc: The refill's reconciliation, the new reservoir state and the bridge.
    seq:
    - id: expected_nl
      type: u4
      doc: 'volume the pump expected to be removed; unit: nL'
    - id: discrepancy_nl
      type: s4
      doc: 'removed - expected; unit: nL'
    - id: discrepancy_flagged
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'over the model''s threshold (possible pocket fill); boolean: 0 false, 1 true'
    - id: reservoir_nl
      type: u4
      doc: 'unit: nL'
    - id: prescription_checksum
      type: u4
      doc: checksum of the prescription now running
    - id: bridge_volume_nl
      type: u4
      doc: 'dead volume the bridge runs for (0: no bridge); unit: nL'
    - id: bridge_ends_at_s
      type: u8
      doc: 'forecast end of the bridge; unit: s (Unix time); pump time in Unix seconds; 0 means none'
    - id: low_reservoir_alarm_at_s
      type: u8
      doc: 'unit: s (Unix time); pump time in Unix seconds; 0 means none'
  read_implant_response:
    doc: 'The implant record (``recorded`` false: none written yet, the other implant fields are then
      empty) and the drug in the pump (its lot and last refill).'
    seq:
    - id: recorded
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'boolean: 0 false, 1 true'
    - id: implant
      type: implant_fields
    - id: concentration_ug_per_ml
      type: u4
      doc: 'the drug in the reservoir; unit: mcg/mL'
    - id: len_drug_lot
      type: u1
      valid:
        max: 16
    - id: drug_lot
      type: str
      size: len_drug_lot
      encoding: UTF-8
    - id: last_refill_at_s
      type: u8
      doc: 'pump clock of the last refill; unit: s (Unix time); pump time in Unix seconds; 0 means none'
  implant_fields:
    seq:
    - id: len_catheter_model
      type: u1
      valid:
        max: 32
    - id: catheter_model
      type: str
      size: len_catheter_model
      encoding: UTF-8
    - id: catheter_volume_nl_per_cm
      type: u4
      valid:
        min: 1
        max: 100000
      doc: 'dead volume per cm of this catheter model; unit: nL/cm'
    - id: catheter_length_mm
      type: u2
      valid:
        min: 1
        max: 3000
      doc: 'after trimming; unit: mm'
    - id: catheter_length_uncertainty_mm
      type: u2
      valid:
        min: 0
        max: 1000
      doc: '+/- on the length (0: exact); unit: mm'
    - id: implanted_at_s
      type: u8
      doc: 'implant date, pump clock; unit: s (Unix time); pump time in Unix seconds; 0 means none'
    - id: len_patient_id
      type: u1
      valid:
        max: 32
    - id: patient_id
      type: str
      size: len_patient_id
      encoding: UTF-8
    - id: origin
      type: u1
      enum: origin
      doc: of the spasticity
    - id: len_physician
      type: u1
      valid:
        max: 32
    - id: physician
      type: str
      size: len_physician
      encoding: UTF-8
  set_implant_request:
    doc: Write the implant record (bridge and priming volumes are computed from it).
    seq:
    - id: implant
      type: implant_fields
  set_implant_response:
    doc: The record as stored.
    seq:
    - id: implant
      type: implant_fields
  read_alarms_response:
    doc: Every alarm the pump holds, each code at most once.
    seq:
    - id: num_alarms
      type: u1
      valid:
        max: 8
    - id: alarms
      repeat: expr
      repeat-expr: num_alarms
      type: alarm_record
  alarm_record:
    seq:
    - id: code
      type: u1
      enum: alarm_code
    - id: alarm_class
      type: u1
      enum: alarm_class
    - id: raised_at_s
      type: u8
      doc: 'unit: s (Unix time)'
    - id: silenced
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'boolean: 0 false, 1 true'
    - id: condition_present
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'boolean: 0 false, 1 true'
  silence_alarm_request:
    doc: Silence an alarm's tones (it stays raised).
    seq:
    - id: code
      type: u1
      enum: alarm_code
  clear_alarm_request:
    doc: Clear an alarm whose condition is gone.
    seq:
    - id: code
      type: u1
      enum: alarm_code
  read_event_log_request:
    doc: Read up to ``max_count`` entries from ``first_index`` on.
    seq:
    - id: first_index
      type: u4
    - id: max_count
      type: u1
      valid:
        min: 1
        max: 32
  read_event_log_response:
    doc: Entries of the log (oldest first) and the log's counters.
    seq:
    - id: total_written
      type: u4
      doc: entries written since the log was created
    - id: overwritten
      type: u4
      doc: oldest entries lost to the ring buffer
    - id: num_entries
      type: u1
      valid:
        max: 32
    - id: entries
      repeat: expr
      repeat-expr: num_entries
      type: log_entry
  log_entry:
    seq:
    - id: index
      type: u4
      doc: position in the log since it was created
    - id: clock_s
      type: u8
      doc: 'unit: s (Unix time)'
    - id: code
      type: u2
      enum: event_code
    - id: a
      type: s4
    - id: b
      type: s4
  read_clock_response:
    doc: The pump's clock.
    seq:
    - id: clock_s
      type: u8
      doc: 'unit: s (Unix time)'
  set_clock_request:
    doc: Set the pump's clock.
    seq:
    - id: clock_s
      type: u8
      doc: 'unit: s (Unix time)'
  set_clock_response:
    doc: The pump's clock after setting it.
    seq:
    - id: clock_s
      type: u8
      doc: 'unit: s (Unix time)'
  read_patient_settings_response:
    doc: The patient-activated dose settings.
    seq:
    - id: enabled
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'boolean: 0 false, 1 true'
    - id: dose_ng
      type: u4
      doc: 'dose of one patient dose; unit: ng'
    - id: duration_s
      type: u4
      doc: 'time to deliver one dose; unit: s'
    - id: lockout_s
      type: u4
      doc: 'minimum time between doses; unit: s'
    - id: max_per_24h
      type: u1
  set_patient_settings_request:
    doc: Set the patient-activated dose settings.
    seq:
    - id: enabled
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'boolean: 0 false, 1 true'
    - id: dose_ng
      type: u4
      doc: 'dose of one patient dose; unit: ng'
    - id: duration_s
      type: u4
      doc: 'time to deliver one dose; unit: s'
    - id: lockout_s
      type: u4
      doc: 'minimum time between doses; unit: s'
    - id: max_per_24h
      type: u1
  set_patient_settings_response:
    doc: The settings as the pump stored them.
    seq:
    - id: enabled
      type: u1
      valid:
        any-of:
        - 0
        - 1
      doc: 'boolean: 0 false, 1 true'
    - id: dose_ng
      type: u4
      doc: 'dose of one patient dose; unit: ng'
    - id: duration_s
      type: u4
      doc: 'time to deliver one dose; unit: s'
    - id: lockout_s
      type: u4
      doc: 'minimum time between doses; unit: s'
    - id: max_per_24h
      type: u1
  patient_dose_response:
    doc: The dose granted (its volume at the concentration in force).
    seq:
    - id: dose_ng
      type: u4
      doc: 'unit: ng'
    - id: volume_nl
      type: u4
      doc: 'unit: nL'
    - id: ends_at_s
      type: u8
      doc: 'unit: s (Unix time)'
    - id: doses_in_24h
      type: u1
      doc: doses granted in the last 24 h, this one included
    - id: next_allowed_at_s
      type: u8
      doc: 'unit: s (Unix time)'
  nak:
    doc: 'A refusal: the request''s SEQ, OP 0x7F, an error code and a UTF-8 reason.'
    seq:
    - id: code
      type: u1
      enum: error_code
    - id: reason
      type: str
      size-eos: true
      encoding: UTF-8
enums:
  alarm_class:
    1: non_critical
    2: critical
  alarm_code:
    0: low_reservoir
    1: eri
    2: memory_non_critical
    3: empty_reservoir
    4: eos
    5: motor_stall
    6: memory_critical
    7: low_battery_reset
  bolus_kind:
    0: none
    1: therapeutic
    2: bridge
    3: priming
    4: patient
  error_code:
    1: malformed
    2: unknown_opcode
    3: no_session
    4: auth_failed
    5: locked_out
    6: bad_mac
    7: replay
    8: forbidden
    9: session_expired
    10: bad_handshake
    16: out_of_range
    17: invalid_state
    18: checksum_mismatch
    19: overfill
    20: condition_persists
    21: patient_dose_lockout
    22: patient_dose_limit
    23: pump_halted
    24: not_enabled
    25: concentration_mismatch
    32: session_displaced
    33: storage_failed
    127: internal
  event_code:
    1: power_on
    2: programmed
    3: refilled
    4: bolus_started
    5: bolus_ended
    6: bolus_cancelled
    7: alarm_raised
    8: alarm_silenced
    9: alarm_cleared
    10: motor_stall
    11: stall_recovery
    12: clock_set
    13: stopped
    14: resumed
    15: alarm_volume_set
    16: patient_dose_granted
    17: patient_dose_refused
    18: patient_settings_set
    19: delivery_halted
    20: battery_set
    21: memory_error
    22: session_opened
    23: session_closed
    24: security
    25: bridge_started
    26: bridge_ended
    27: bridge_cancelled
    28: implant_recorded
    29: low_battery_reset
    30: valve_closed
    31: valve_reset
  mode:
    0: stopped
    1: simple
    2: flex
    3: minimum_rate
  op:
    1: device_info
    2: session_open
    3: session_auth
    4: session_close
    8: limits
    16: status
    17: read_prescription
    18: stage_prescription
    19: commit_prescription
    20: read_delivery
    21: read_valve
    32: start_bolus
    33: cancel_bolus
    34: stop_pump
    35: resume_pump
    36: cancel_bridge
    37: reset_valve
    48: stage_refill
    49: set_alarm_volume
    50: commit_refill
    51: read_implant
    52: set_implant
    64: read_alarms
    65: silence_alarm
    66: clear_alarm
    80: read_event_log
    96: read_clock
    97: set_clock
    112: read_patient_settings
    113: set_patient_settings
    114: patient_dose
    127: nak
  origin:
    0: unknown
    1: spinal
    2: cerebral
  role:
    1: clinician
    2: patient
  stop_reason:
    0: none
    1: clinician_decision
    2: mri
    3: catheter_revision
    4: adverse_effect
    5: other
  valve_model:
    0: motor
    1: valve_discharge
    2: valve_flow_activated
