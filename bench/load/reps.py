"""Simulated reps working their queues, one thread each (the load run's load generator).

Each rep logs in (GET the form for its CSRF token, POST the password; a few reps at a
time), and once all are in, until the run's time is up: opens Today, opens the first
pending call's work page, opens the lead's page, logs an outcome (connected, no answer,
or voicemail with a callback) and follows the redirect to the next lead. It pauses
``think`` seconds (on average) between requests. Now and then it double-clicks: two
tabs post the same outcome at the same instant, and exactly one must log a touch.

Run by ``run_load.py`` in a process of its own, so the reps' CPU is not the server's:
    python -m bench.load.reps --base-url http://127.0.0.1:PORT --people people.json \\
        --seconds 300 --out reps.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.load.browser import Browser, Recorder, RequestFailed, Response, path_of

START_LINK = re.compile(r'href="/work/(\d+)/" data-key="w"')
LEAD_LINK = re.compile(r'id="lead-name"><a href="(/leads/\d+/)"')
NEXT_FIELD = re.compile(r'name="next" value="(\d*)"')
LOGGED = "Logged "  # the success message: "Logged no answer for Lead3 Of…."
ALREADY = "already worked"  # TaskClosed: the other tab logged it first
OUTCOMES = ("connected", "no_answer", "voicemail")
MAX_FAILURES_IN_A_ROW = 3


@dataclass
class RepResult:
    """What one rep did, as the browser saw it; the database must agree exactly."""

    username: str
    logged: list[int] = field(default_factory=list)  # task ids with a "Logged" answer
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    closed: int = 0  # "already worked" answers (the losing tab of a double click)
    double_clicks: int = 0
    queue_emptied: bool = False
    anomalies: list[str] = field(default_factory=list)


@dataclass
class Pace:
    """How reps work, and the work phase's window, which opens once all have logged in."""

    think: float
    double_click: float
    seconds: float
    logins_left: int
    # Reps log in a few at a time: a login costs a full PBKDF2 hash (~0.3 s of a CPU,
    # more on a busy box), and a team does not log in all in the same second.
    login_gate: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(4))
    lock: threading.Lock = field(default_factory=threading.Lock)
    go: threading.Event = field(default_factory=threading.Event)
    began: float = 0.0  # time.monotonic() when the work phase opened
    deadline: float = 0.0  # after which no rep starts another lead

    def logged_in(self) -> None:
        """One rep is in (or gave up trying); the last one opens the work phase."""
        with self.lock:
            self.logins_left -= 1
            if self.logins_left == 0:
                self.began = time.monotonic()
                self.deadline = self.began + self.seconds
                self.go.set()


class Rep:
    def __init__(self, browser: Browser, password: str, pace: Pace, rng: random.Random) -> None:
        self.browser, self.password, self.pace, self.rng = browser, password, pace, rng
        self.result = RepResult(browser.rep)

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a bug here must show in the report, not end a thread quietly
            self.result.anomalies.append(f"the simulated rep crashed: {exc!r}")

    def _run(self) -> None:
        try:
            self._log_in()
        except (RequestFailed, Unexpected) as exc:
            self.result.anomalies.append(str(exc))
            return
        finally:
            self.pace.logged_in()
        self.pace.go.wait()
        self._pause()  # so the reps do not all open Today in the same instant
        failures = 0  # in a row: a rep whose every page fails gives up, as a person would
        while time.monotonic() < self.pace.deadline and failures < MAX_FAILURES_IN_A_ROW:
            try:
                if not self._work_one():
                    break
                failures = 0
            except TimeUp:
                break
            except (RequestFailed, Unexpected) as exc:
                self.result.anomalies.append(str(exc))
                failures += 1
                self._pause()

    def _pause(self) -> None:
        """Think, but not past the end of the run."""
        pause = self.pace.think * self.rng.uniform(0.5, 1.5)
        time.sleep(max(0.0, min(pause, self.pace.deadline - time.monotonic())))

    def _pause_within_run(self) -> None:
        """Think; at the end of the run, leave this lead where it is (nothing was logged)."""
        self._pause()
        if time.monotonic() >= self.pace.deadline:
            raise TimeUp

    def _log_in(self) -> None:
        with self.pace.login_gate:
            self._log_in_now()

    def _log_in_now(self) -> None:
        form = expect(self.browser.get("login_form", "/login/"), 200, "login form")
        answer = self.browser.post(
            "login",
            "/login/",
            {
                "csrfmiddlewaretoken": form.csrf_token(),
                "username": self.browser.rep,
                "password": self.password,
                "next": "",
            },
        )
        if answer.status != 302 or path_of(answer.location) != "/":
            raise Unexpected(f"login: {answer.status} to {answer.location!r}")

    def _work_one(self) -> bool:
        """One lead, from Today to the page after its outcome; False when none is left."""
        today = expect(self.browser.get("today", "/"), 200, "Today")
        found = START_LINK.search(today.body)
        if found is None:
            self.result.queue_emptied = True
            return False
        task_id = int(found.group(1))
        self._pause_within_run()
        work = expect(self.browser.get("work", f"/work/{task_id}/"), 200, "work page")
        lead = LEAD_LINK.search(work.body)
        if lead is None:
            raise Unexpected(f"work page of task {task_id} has no lead link")
        self._pause_within_run()
        expect(self.browser.get("lead", lead.group(1)), 200, "lead page")
        self._pause_within_run()
        self._log_outcome(task_id, work)
        self._pause()
        return True

    def _log_outcome(self, task_id: int, work: Response) -> None:
        outcome = self.rng.choice(OUTCOMES)
        following = NEXT_FIELD.search(work.body)
        form = {
            "csrfmiddlewaretoken": work.csrf_token(),
            "outcome": outcome,
            "notes": f"load run: {outcome}",
            "callback": "next_day" if outcome == "voicemail" else "none",
            "callback_at": "",
            "next": following.group(1) if following else "",
        }
        if self.rng.random() < self.pace.double_click:
            answers = self._double_click(task_id, form)
        else:
            answers = [self._post_and_follow(self.browser, task_id, form)]
        self._count(task_id, outcome, answers)

    def _double_click(self, task_id: int, form: dict[str, str]) -> list[str]:
        """Two tabs post at once; each follows its own redirect with its own cookies."""
        self.result.double_clicks += 1
        twin = self.browser.copy()
        gate = threading.Barrier(2)
        answers: list[str] = ["", ""]
        errors: list[Exception] = []

        def tab(index: int, browser: Browser) -> None:
            try:
                gate.wait(timeout=30)
                answers[index] = self._post_and_follow(browser, task_id, form)
            except (RequestFailed, Unexpected, threading.BrokenBarrierError) as exc:
                errors.append(exc)

        other = threading.Thread(target=tab, args=(1, twin))
        other.start()
        tab(0, self.browser)
        other.join()
        if errors:
            raise Unexpected(f"double click on task {task_id}: {errors[0]}")
        return answers

    def _post_and_follow(self, browser: Browser, task_id: int, form: dict[str, str]) -> str:
        """The message the page after the POST shows: the rep's proof of what happened."""
        answer = browser.post("log_outcome", f"/work/{task_id}/log/", form)
        if answer.status != 302:
            raise Unexpected(f"outcome for task {task_id}: {answer.status}, not a redirect")
        target = path_of(answer.location)
        page = "today" if target.split("?")[0] == "/" else "work"
        after = expect(browser.get(page, target), 200, f"page after logging task {task_id}")
        if LOGGED in after.body:
            return "logged"
        if ALREADY in after.body:
            return "closed"
        raise Unexpected(f"no message after logging task {task_id} (landed on {target})")

    def _count(self, task_id: int, outcome: str, answers: list[str]) -> None:
        logged = answers.count("logged")
        self.result.closed += answers.count("closed")
        if logged == 0:
            self.result.anomalies.append(f"task {task_id}: no tab logged it {answers}")
        for _ in range(logged):
            self.result.logged.append(task_id)
            self.result.outcomes[outcome] += 1


class TimeUp(Exception):
    """The run's time is up: the rep stops before its next request."""


class Unexpected(Exception):
    """A page the rep did not expect: an error status, a lost session, a missing link."""


def expect(response: Response, status: int, what: str) -> Response:
    if response.status != status:
        where = f" to {response.location}" if response.location else ""
        raise Unexpected(f"{what}: {response.status}{where}, expected {status}")
    return response


def run_reps(
    *,
    base_url: str,
    usernames: list[str],
    password: str,
    seconds: float,
    think: float,
    double_click: float,
    timeout: float,
    seed: int,
    logins_at_once: int = 4,
) -> dict:
    """Log every rep in, a few at a time, then let them all work ``seconds``."""
    recorder = Recorder()
    pace = Pace(
        think=think,
        double_click=double_click,
        seconds=seconds,
        logins_left=len(usernames),
        login_gate=threading.Semaphore(logins_at_once),
    )
    reps = [
        Rep(
            Browser(base_url, rep=name, recorder=recorder, timeout=timeout),
            password,
            pace,
            random.Random(seed * 100_003 + n),
        )
        for n, name in enumerate(usernames)
    ]
    threads = [threading.Thread(target=rep.run, name=rep.result.username) for rep in reps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "login_seconds": pace.began - recorder.started,
        "work_seconds": recorder.now() - (pace.began - recorder.started),
        "samples": [asdict(sample) for sample in recorder.samples],
        "reps": [asdict(rep.result) for rep in reps],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--people", type=Path, required=True, help="JSON: usernames, password")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--double-click", type=float, default=0.05)
    parser.add_argument("--logins-at-once", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    people = json.loads(args.people.read_text())
    report = run_reps(
        base_url=args.base_url,
        usernames=people["usernames"],
        password=people["password"],
        seconds=args.seconds,
        think=args.think,
        double_click=args.double_click,
        timeout=args.timeout,
        seed=args.seed,
        logins_at_once=args.logins_at_once,
    )
    args.out.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
