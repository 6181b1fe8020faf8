*** Settings ***
Documentation     Dosing stories for the virtual pump, as Robot Framework tests.
...               Each keyword is one step of the scenario format (docs/scenarios.md), with its
...               units; every test gets its own in-process pump on a manual clock, so 85 days
...               take milliseconds. Run: robot --outputdir reports/robot examples/robot
Library           emulator.robot_library.VpumpLibrary
Library           Process
Test Tags         vpump


*** Test Cases ***
Low-reservoir alarm reached and cleared by a refill
    [Documentation]    Alarm volume 3 mL at 0.2 mL/day (100 mcg/day of 500 mcg/mL):
    ...                (20 - 3) mL / 0.2 mL/day = 85 days.
    [Tags]    alarm    refill
    Start Pump    reservoir=20 mL    concentration=500 mcg/mL    prescription={simple: 100 mcg/day}
    Set Alarm Volume    3 mL
    Low Reservoir Date Should Be    start + 85d
    Advance Until    start + 85d
    Expect    reservoir=3 mL    alarms=[LOW_RESERVOIR]    delivering=true
    Silence Alarm    LOW_RESERVOIR
    Silenced Should Be    [LOW_RESERVOIR]
    Clear Alarm    LOW_RESERVOIR    expect_error=CONDITION_PERSISTS
    Refill    removed=expected    added=17 mL    concentration=500 mcg/mL
    # (17 - 3) mL at 0.2 mL/day
    Expect    alarms=[]    reservoir=17 mL    low_reservoir_date=now + 70d
    Events Should Be    [{event: ALARM_CLEARED, alarm_code: LOW_RESERVOIR, count: 1}]

Refill from 500 to 2000 mcg/mL keeps the dose and bridges the dead volume
    [Documentation]    110 cm catheter: 0.2 mL + 110 cm x 0.0026 mL/cm = 0.486 mL, run at the
    ...                old 500 mcg/mL: 0.486 mL x 500 mcg/mL / 400 mcg/day = 0.6075 d = 14 h 34 min 48 s.
    [Tags]    refill    bridge
    Start Pump    reservoir=20 mL    concentration=500 mcg/mL
    ...           prescription={simple: 400 mcg/day}    implant={catheter: 110 cm}
    Advance    21d
    Expect    reservoir=3.2 mL    current_rate=0.8 mL/day
    Refill    removed=expected    added=20 mL    concentration=2000 mcg/mL
    ...       same_dose=true    bridge=true    lot=QA-2000-01
    Expect    daily_dose=400 mcg/day    current_rate=0.8 mL/day    bridging=true
    ...       bridge_remaining=0.486 mL    bridge_end=now + 14h 34min 48s
    ...       concentration_at_tip=500 mcg/mL
    Advance    14h 34min 48s
    Expect    bridging=false    current_rate=0.2 mL/day    concentration_at_tip=2000 mcg/mL
    Advance    1d
    Patient Rate Should Be    400 mcg/day ± 0.1 mcg/day

Patient doses against the lockout
    [Tags]    patient-dose
    Start Pump    prescription={simple: 150 mcg/day}
    Patient Settings    enabled=true    dose=25 mcg    duration=10 min    lockout=3h    max_per_day=4
    Patient Dose
    # 25 mcg of 500 mcg/mL
    Expect    bolus=PATIENT    bolus_remaining=0.05 mL
    Advance    2h
    Patient Dose    expect_error=PATIENT_DOSE_LOCKOUT
    Advance    1h
    Patient Dose
    Events Should Be    [{event: PATIENT_DOSE_GRANTED, count: 2}]

A therapeutic bolus, a motor stall and the programmer's view
    [Tags]    bolus    fault
    Start Pump    prescription={simple: 100 mcg/day}
    Bolus    kind=THERAPEUTIC    dose=50 mcg    duration=1h
    Expect    bolus=THERAPEUTIC    bolus_remaining=0.1 mL
    Advance    1h
    Bolus Should Be    NONE
    Fault    motor_stall=true
    Expect    alarms=[MOTOR_STALL]    delivering=false    current_rate=0 mL/day
    Interrogate
    Clear Alarm    MOTOR_STALL    expect_error=CONDITION_PERSISTS
    Advance    2h
    Fault    motor_stall=false
    Expect    alarms=[]    delivering=true
    ...       events=[{event: STALL_RECOVERY, stall_duration: 2h}]
    Program    simple=200 mcg/day
    Daily Dose Should Be    200 mcg/day
    Current Rate Should Be    0.4 mL/day

The pump served on a pseudo-terminal to pumpctl
    [Documentation]    A programmer outside the test (here pumpctl) talks to the same pump;
    ...                time still moves only with Advance (1 day at 0.2 mL/day: 0.2 mL).
    [Tags]    pty
    Start Pump    reservoir=20 mL    prescription={simple: 100 mcg/day}
    ${port}=    Serve Pump On Pty
    Should Start With    ${port}    /dev/pts/
    Advance    1d
    ${python}=    Evaluate    sys.executable    modules=sys
    ${result}=    Run Process    ${python}    -m    protocol.cli    --port    ${port}
    ...           program    simple    --dose    150    timeout=60s
    Should Be Equal As Integers    ${result.rc}    0    msg=${result.stderr}
    Should Contain    ${result.stdout}    100 mcg/day -> 150 mcg/day
    Expect    daily_dose=150 mcg/day    reservoir=19.8 mL    current_rate=0.3 mL/day
    Events Should Be    [{event: PROGRAMMED, daily_dose: 150 mcg/day}]

The pump on a TCP port
    [Tags]    tcp
    Start Pump
    ${url}=    Serve Pump On TCP
    Should Match Regexp    ${url}    ^socket://127\\.0\\.0\\.1:\\d+$
    ${python}=    Evaluate    sys.executable    modules=sys
    ${result}=    Run Process    ${python}    -m    protocol.cli    --port    ${url}
    ...           --json    status    timeout=60s
    Should Be Equal As Integers    ${result.rc}    0    msg=${result.stderr}
    ${status}=    Evaluate    json.loads($result.stdout)    modules=json
    Should Be Equal As Integers    ${status}[reservoir_nl]    20000000
