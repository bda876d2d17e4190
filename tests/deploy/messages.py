"""Students sending messages through the front while something breaks behind it, as the
browser does: an unanswered send (no answer, 5xx) is repeated with the same idempotency
key a bounded number of times; any other refusal is a failure."""

from __future__ import annotations

import threading
import time
import uuid

import requests

from tests.faults.conftest import csrf_headers

TIMEOUT = 15


class MessageWave:
    def __init__(self, url: str, sessions: list[requests.Session], room_id: int, per_student: int):
        self.url, self.room_id, self.per_student = url, room_id, per_student
        self.acknowledged: list[tuple[str, int]] = []  # (idempotency key, message id)
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send_all, args=(s,)) for s in sessions]
        for thread in self._threads:
            thread.start()

    def join(self, seconds: float = 240) -> None:
        for thread in self._threads:
            thread.join(seconds)

    def _send_all(self, session: requests.Session) -> None:
        for number in range(self.per_student):
            key = uuid.uuid4().hex
            for _attempt in range(100):  # bounded: a node or database takes over in seconds
                try:
                    answer = session.post(
                        f"{self.url}/messages/rooms/{self.room_id}/send",
                        json={"text": f"Nachricht {number}", "key": key},
                        headers=csrf_headers(session, self.url),
                        timeout=TIMEOUT,
                    )
                except requests.RequestException:
                    answer = None
                if answer is not None and answer.status_code in (200, 201):  # 200: a repeat
                    with self._lock:
                        self.acknowledged.append((key, answer.json()["message"]["id"]))
                    break
                if answer is not None and answer.status_code < 500:
                    with self._lock:
                        self.failures.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
                time.sleep(0.2)
            else:
                with self._lock:
                    self.failures.append(f"message {number} never acknowledged")
                return
