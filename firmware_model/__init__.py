"""Everything inside the pump's can, as pure and exact code.

No I/O, threads or wall clock: every call takes the pump time ``t`` (int
seconds). Volumes are integer nanolitres and conservation holds exactly.

Modules, one concept each:

- :mod:`~firmware_model.profile`: per-model constants (every clinical number);
- :mod:`~firmware_model.prescription`: basal modes, flex schedules, boluses,
  patient-dose settings and their validation;
- :mod:`~firmware_model.delivery`: exact event-driven integration and the books;
- :mod:`~protocol.battery`: charge, drains, ERI;
- :mod:`~firmware_model.alarms`: the alarm table and its rules;
- :mod:`~firmware_model.event_log`: the bounded, counted event ring;
- :mod:`~protocol.forecast`: alarm dates integrated over the real plan;
- :mod:`~firmware_model.nvm`: the whole state to bytes and back;
- :mod:`~firmware_model.pump`: the aggregate :class:`~firmware_model.pump.Pump`;
- :mod:`~firmware_model.telemetry`: the device end of the wire protocol;
- :mod:`~firmware_model.errors`, :mod:`~protocol.timebase`: shared pieces.
"""
