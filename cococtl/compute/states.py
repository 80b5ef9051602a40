"""Cocos agent states and the event log a run records (agent/service.go state names)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    IDLE = "Idle"
    RECEIVING_MANIFEST = "ReceivingManifest"
    RECEIVING_ALGORITHM = "ReceivingAlgorithm"
    RECEIVING_DATA = "ReceivingData"
    RUNNING = "Running"
    CONSUMING_RESULTS = "ConsumingResults"
    COMPLETE = "Complete"
    FAILED = "Failed"


class Status(StrEnum):
    IN_PROGRESS = "InProgress"
    STARTING = "Starting"
    COMPLETED = "Completed"
    READY = "Ready"
    FAILED = "Failed"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    state: State
    status: Status
    timestamp: float
    details: str = ""


@dataclass
class StateLog:
    """Ordered record of the states a run went through, with an optional listener for live display."""

    listener: Callable[[Event], None] | None = None
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.events:
            self.events.append(Event(State.IDLE, Status.COMPLETED, time.time()))

    def enter(self, state: State, status: Status, details: str = "") -> None:
        event = Event(state, status, time.time(), details)
        self.events.append(event)
        if self.listener is not None:
            self.listener(event)

    @property
    def current(self) -> State:
        return self.events[-1].state

    def sequence(self) -> list[str]:
        """The distinct states in order, e.g. Idle → ReceivingManifest → … → Complete."""
        names: list[str] = []
        for event in self.events:
            if not names or names[-1] != event.state.value:
                names.append(event.state.value)
        return names
