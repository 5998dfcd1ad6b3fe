"""Every (API group, resource, verb) the exporter and the gate use, in one place.

The client refuses a request whose permission is not declared here, and a test compares these
declarations with the Roles in ``k8s/``: a Role may grant nothing that the code does not use.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Permission:
    group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        group = f"{self.group}/" if self.group else ""
        return f"{self.verb} {group}{self.resource}"


#: Discovery: annotated services and ingresses, listed then watched.
DISCOVERY = frozenset(
    {
        Permission("", "services", "list"),
        Permission("", "services", "watch"),
        Permission("networking.k8s.io", "ingresses", "list"),
        Permission("networking.k8s.io", "ingresses", "watch"),
    }
)
#: The exporter's own Deployment: its maintenance annotation, and its uid for Events.
DEPLOYMENT = frozenset({Permission("apps", "deployments", "get")})
#: Events on site rollup transitions.
EVENTS = frozenset({Permission("events.k8s.io", "events", "create")})
#: The base Role: everything but exec.
BASE = DISCOVERY | DEPLOYMENT | EVENTS

#: The ``kubernetes`` command runner (drupal probe): find a pod, exec into it. The websocket
#: upgrade is a GET, authorized as ``get``; since Kubernetes 1.35 the API server also checks
#: ``create`` on it (feature gate ``AuthorizePodWebsocketUpgradeCreatePermission``, beta and on
#: by default; kubernetes/kubernetes#134577).
EXEC = frozenset(
    {
        Permission("", "pods", "list"),
        Permission("", "pods/exec", "get"),
        Permission("", "pods/exec", "create"),
    }
)

ALL = BASE | EXEC

#: ``site-status gate`` (the argocd-gate component's Role): the freeze on the exporter's
#: Deployment (read, set and lifted with a merge patch), and an Event for each freeze, lift and
#: override.
GATE = frozenset(
    {
        Permission("apps", "deployments", "get"),
        Permission("apps", "deployments", "patch"),
        Permission("events.k8s.io", "events", "create"),
    }
)
#: What the client may ask for at all.
DECLARED = ALL | GATE
