"""Locust users of scripts/tool-fixtures.sh, against scripts/tool-target.py.

Three request names (home, slow, missing); /missing answers 404, which Locust counts
as a failure, so every export carries failures as well as successes.
"""
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def home(self):
        self.client.get("/", name="home")

    @task(3)
    def slow(self):
        self.client.get("/slow", name="slow")

    @task(1)
    def missing(self):
        self.client.get("/missing", name="missing")
