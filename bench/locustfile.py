"""Locust scenario of realistic portal users, driven by ``bench/load_pages.py``.

The plan (users with a session cookie each, their group, its documents and
meetings) is read from the JSON file named by ``LOAD_PLAN``. Each simulated
user sends about one request per second:

- members browse their dashboard, their group, its documents and one
  document, its meetings and one meeting, read the chat history, post a chat
  message now and then, and answer a meeting invitation;
- visitors read the public list of groups and a group's public page;
- ``/health/`` (no database, no template) is the baseline of the same run.

Each user's requests arrive as a Poisson process of one per second (exponential
gaps, as independent people click), so the 50 users together send a Poisson
stream of about 50 requests per second. ``LOAD_PACING=constant`` uses locust's
``constant_throughput(1)`` instead: every user exactly once a second, and once a
slow second has put the users in step, they keep arriving together, 50 at once
(docs/benchmarks.md compares the two).

Users are ``FastHttpUser`` (geventhttpclient): with ``HttpUser`` (requests) locust
itself added about 18 ms at the median, 36 ms at p95, to an endpoint that answers in
1 ms on this machine, a third of the 100 ms target (docs/benchmarks.md, Load).
"""

import itertools
import json
import os
import random
import re
import time
from http.cookiejar import Cookie
from urllib.parse import urlsplit

from locust import between, constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser


def session_cookie(host: str, value: str) -> Cookie:
    """The member's session cookie, for the client's cookie jar."""
    domain = urlsplit(host).hostname
    return Cookie(
        0, "sessionid", value, None, False, domain, False, False, "/", True,
        False, None, False, None, None, {},
    )  # fmt: skip


def poisson_pacing(rate: float):
    """A wait time giving Poisson arrivals of ``rate`` per second for each user.

    The next request is due an exponential gap after the previous one was due; a
    user running late sends at once, but does not catch up on what it missed.
    """

    def wait_time(user) -> float:
        now = time.monotonic()
        due = getattr(user, "_due", now) + random.expovariate(rate)
        user._due = max(due, now)
        return user._due - now

    return wait_time


PACING = (
    constant_throughput(1) if os.environ.get("LOAD_PACING") == "constant" else poisson_pacing(1.0)
)

PLAN = json.loads(open(os.environ["LOAD_PLAN"]).read())  # noqa: SIM115 (read once at import)
MEMBERS = itertools.cycle(PLAN["members"])
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Member(FastHttpUser):
    weight = 8
    wait_time = PACING

    def on_start(self):
        self.me = next(MEMBERS)
        self.client.cookiejar.set_cookie(session_cookie(self.host, self.me["cookie"]))
        self.slug = self.me["slug"]
        self.token = ""

    def _csrf(self, html: str) -> None:
        match = CSRF.search(html)
        if match:
            self.token = match.group(1)

    @task(3)
    def dashboard(self):
        with self.client.get("/dashboard/", name="dashboard", catch_response=True) as r:
            self._csrf(r.text)

    @task(4)
    def group(self):
        self.client.get(f"/g/{self.slug}/", name="group page")

    @task(3)
    def documents(self):
        self.client.get(f"/g/{self.slug}/documents/", name="documents")

    @task(2)
    def document(self):
        pk = random.choice(self.me["documents"])
        self.client.get(f"/g/{self.slug}/documents/{pk}/", name="document")

    @task(2)
    def meetings(self):
        self.client.get(f"/g/{self.slug}/meetings/", name="meetings")

    @task(2)
    def meeting(self):
        pk = random.choice(self.me["meetings"])
        path = f"/g/{self.slug}/meetings/{pk}/"
        with self.client.get(path, name="meeting", catch_response=True) as r:
            self._csrf(r.text)

    @task(3)
    def chat_history(self):
        self.client.get(f"/g/{self.slug}/chat/history/", name="chat history")

    @task(1)
    def chat_post(self):
        if not self.token:
            return self.dashboard()
        self.client.post(
            f"/g/{self.slug}/chat/post/",
            {"body": "A message from the load test", "csrfmiddlewaretoken": self.token},
            headers={"Referer": self.host + f"/g/{self.slug}/chat/"},
            name="chat post",
            allow_redirects=False,
        )

    @task(1)
    def answer(self):
        if not self.token:
            return self.meeting()
        pk = random.choice(self.me["meetings"])
        self.client.post(
            f"/g/{self.slug}/meetings/{pk}/answer/",
            {"answer": random.choice(["yes", "no", "maybe"]), "csrfmiddlewaretoken": self.token},
            headers={"Referer": self.host + f"/g/{self.slug}/meetings/{pk}/"},
            name="meeting answer",
            allow_redirects=False,
        )


class Visitor(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 1.5)

    @task(2)
    def home(self):
        self.client.get("/", name="home (public)")

    @task(1)
    def public_group(self):
        self.client.get(f"/g/{random.choice(PLAN['slugs'])}/about/", name="group (public)")


class Baseline(FastHttpUser):
    weight = 1
    wait_time = PACING

    @task
    def health(self):
        self.client.get("/health/", name="baseline /health/")
