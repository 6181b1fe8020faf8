"""Everything inside the pump's can, as pure and exact code.

No I/O, threads or wall clock: every call takes the pump time ``t`` (int
seconds). Volumes are integer nanolitres and conservation holds exactly.

Modules, one concept each:

- :mod:`~firmware_model.profile`: per-model constants (every clinical number);
- :mod:`~firmware_model.prescription`: the pump's limits on prescriptions,
  boluses and patient-dose settings, and the patient-dose request rule;
- :mod:`~firmware_model.delivery`: the reservoir's books and the running bridge;
- :mod:`~firmware_model.mri`: an MRI exposure as the motor lives it;
- :mod:`~firmware_model.alarms`: the alarm table and its rules;
- :mod:`~firmware_model.event_log`: the bounded, counted event ring;
- :mod:`~firmware_model.nvm`: the whole state to bytes and back;
- :mod:`~firmware_model.pump`: the aggregate :class:`~firmware_model.pump.Pump`;
  its records (:mod:`~firmware_model.pump_records`), input and image checks
  (:mod:`~firmware_model.pump_checks`), commands (:mod:`~firmware_model.pump_commands`),
  MRI, valves and injected faults (:mod:`~firmware_model.pump_faults`), and forecasts
  and status (:mod:`~firmware_model.pump_forecasts`) live beside it;
- :mod:`~firmware_model.telemetry`: the device end of the wire protocol;
- :mod:`~firmware_model.errors`: the model's errors.

The dosing maths the programmer shares (dose to rate, the schedule, exact
integration, forecasts, the battery) lives in :mod:`protocol.schedule`,
:mod:`protocol.forecast`, :mod:`protocol.battery` and :mod:`protocol.timebase`.
"""
