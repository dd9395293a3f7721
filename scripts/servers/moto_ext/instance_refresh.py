"""EC2 Auto Scaling instance refresh for moto's server.

moto 5 answers StartInstanceRefresh, DescribeInstanceRefreshes,
CancelInstanceRefresh and RollbackInstanceRefresh with "not implemented".
`install()` serves them on moto's Auto Scaling responses, over moto's own
groups, instances and target groups, following the AWS API reference:

- StartInstanceRefresh (strategy `Rolling`; `DesiredConfiguration` with a
  `LaunchTemplate`, or none to replace every instance with the group's own
  configuration) records a refresh `Pending`, then a worker thread points
  the group at the desired template (`InProgress`) and replaces its
  instances in batches: a batch keeps `MinHealthyPercentage` (default 90)
  of the desired capacity in service, so it is
  `max(1, capacity - ceil(capacity * min / 100))` instances, terminated in
  the group while their replacements launch from the group's template; at
  100 % a replacement is launched before its instance is terminated, one at
  a time. `SkipMatching` leaves instances already on the desired template
  and version (by their `aws:ec2launchtemplate:*` tags). A second start
  while one is active fails with `InstanceRefreshInProgress`.
- A replacement is healthy when the group lists it `InService`/`Healthy`,
  EC2 runs it (a stopped instance fails EC2 health checks), and, for a
  group with health check type `ELB`, each of its target groups reports it
  `healthy`. A batch counts as updated once healthy after the instance
  warm-up (`InstanceWarmup`, else the group's health check grace period);
  one not healthy within the warm-up plus `UNHEALTHY_AFTER` seconds fails
  the refresh: `Failed`, or with
  `AutoRollback` a rollback (`RollbackInProgress`, the group pointed back at
  its previous template and every instance not launched from it replaced,
  batch by batch) to `RollbackSuccessful` (`RollbackFailed` if a rollback
  batch fails).
- CancelInstanceRefresh: `Cancelling` until the batch under way ends, then
  `Cancelled` (nothing is rolled back). RollbackInstanceRefresh of a
  refresh under way: the rollback above. Both answer
  `ActiveInstanceRefreshNotFound` when nothing is active; a rollback is
  `IrreversibleInstanceRefresh` without a desired configuration or when
  the group launched `$Latest`/`$Default` before.
- DescribeInstanceRefreshes lists a group's refreshes newest first, with
  status, reason, `PercentageComplete`, `InstancesToUpdate`, progress
  details, preferences, desired configuration and rollback details.

Progress runs in the background (a thread per refresh, every `TICK`
seconds), whether or not anyone polls. Requests to the Auto Scaling, EC2
and load balancing services and the workers' steps are serialised by one
lock, so a step never sees a half-made change. `/moto-api/reset` ends the
workers (their groups are gone). Not implemented (answered with a
`ValidationError` naming them): the `ReplaceRootVolume` strategy, a mixed
instances policy, checkpoints, bake time, alarms, a maximum healthy
percentage other than 100, and the scale-in-protected and standby
instance preferences.
"""

import json
import math
import threading
import time
import uuid
from datetime import datetime, timezone

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, BaseResponse

LOCK = threading.RLock()
"""Serialises the services a refresh touches with the refresh workers."""
SERVICES = {"autoscaling", "ec2", "elbv2", "elb"}
TICK = 0.1
"""Seconds between two steps of a refresh."""
UNHEALTHY_AFTER = 5.0
"""Seconds a batch may stay unhealthy past its warm-up (AWS waits longer,
replacing unhealthy instances meanwhile; a fake instance that fails stays
failed, so the bound only keeps tests short)."""
ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")
TEMPLATE_ID_TAG = "aws:ec2launchtemplate:id"
TEMPLATE_VERSION_TAG = "aws:ec2launchtemplate:version"
NOT_IMPLEMENTED = (
    "CheckpointPercentages",
    "CheckpointDelay",
    "AlarmSpecification",
    "BakeTime",
    "ScaleInProtectedInstances",
    "StandbyInstances",
)


class InstanceRefreshInProgress(AutoscalingClientError):
    code = "InstanceRefreshInProgress"
    message = (
        "An Instance Refresh is already in progress and blocks the execution "
        "of this Instance Refresh."
    )


class ActiveInstanceRefreshNotFound(AutoscalingClientError):
    code = "ActiveInstanceRefreshNotFound"
    message = "No in progress or pending Instance Refresh found for Auto Scaling group {}"


class IrreversibleInstanceRefresh(AutoscalingClientError):
    code = "IrreversibleInstanceRefresh"


class InvalidNextToken(AutoscalingClientError):
    code = "InvalidNextToken"
    message = "The token is invalid."


def now():
    return datetime.now(timezone.utc)


def registry(backend):
    """The refreshes of each group of `backend`, newest first (gone with
    the backend on `/moto-api/reset`)."""
    return backend.__dict__.setdefault("_dafnck_instance_refreshes", {})


def find_group(backend, name):
    group = backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - {name}")
    return group


def flag(value, default=False):
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def irreversible(version):
    return version is None or str(version).lower() in ("$latest", "$default")


class Refresh:
    """One instance refresh of a group, advanced by its worker thread."""

    def __init__(self, backend, group, strategy, desired, preferences):
        if strategy != "Rolling":
            raise ValidationError(
                f"the dafnck moto extension implements only the Rolling strategy, not {strategy}"
            )
        if group.mixed_instances_policy or desired.get("MixedInstancesPolicy"):
            raise ValidationError(
                "the dafnck moto extension does not refresh a mixed instances policy"
            )
        unsupported = [p for p in NOT_IMPLEMENTED if preferences.get(p) not in (None, [], {})]
        max_healthy = preferences.get("MaxHealthyPercentage")
        if max_healthy is not None and int(max_healthy) != 100:
            unsupported.append("MaxHealthyPercentage")
        if unsupported:
            raise ValidationError(
                "the dafnck moto extension does not implement the preference(s) "
                + ", ".join(unsupported)
            )
        self.backend = backend
        self.group = group
        self.id = str(uuid.uuid4())
        self.status = "Pending"
        self.reason = None
        self.start_time = now()
        self.end_time = None
        self.strategy = strategy
        self.min_healthy = int(preferences.get("MinHealthyPercentage", 90))
        if not 0 <= self.min_healthy <= 100:
            raise ValidationError("MinHealthyPercentage must be between 0 and 100")
        warmup = preferences.get("InstanceWarmup")
        self.warmup = float(warmup if warmup is not None else group.health_check_grace_period or 0)
        self.skip_matching = flag(preferences.get("SkipMatching"))
        self.auto_rollback = flag(preferences.get("AutoRollback"))
        self.preferences = {
            "MinHealthyPercentage": self.min_healthy,
            "SkipMatching": self.skip_matching,
            "AutoRollback": self.auto_rollback,
            "MaxHealthyPercentage": 100,
        }
        if warmup is not None:
            self.preferences["InstanceWarmup"] = int(warmup)
        self.desired = desired.get("LaunchTemplate")
        template = group.ec2_launch_template
        self.previous = (
            {"LaunchTemplateId": template.id, "Version": group.provided_launch_template_version}
            if template is not None
            else None
        )
        if self.desired:
            self.target = self.resolve(self.desired)
        elif template is not None:
            self.target = self.resolve(self.previous)
        else:
            self.target = None
        if self.auto_rollback and self.why_irreversible():
            raise ValidationError(f"AutoRollback is not possible: {self.why_irreversible()}")
        self.launched = set()
        self.batch = None
        self.cancelling_from = None
        self.rollback = None
        self.total = len(self.remaining())
        self.updated = 0

    def resolve(self, spec):
        """(template id, version number) of a launch template spec."""
        ec2 = self.backend.ec2_backend
        try:
            if spec.get("LaunchTemplateId"):
                template = ec2.get_launch_template(spec["LaunchTemplateId"])
            else:
                template = ec2.get_launch_template_by_name(spec.get("LaunchTemplateName"))
            version = template.get_version(spec.get("Version") or "$Default")
        except Exception as e:  # moto's not-found errors, a bad version
            raise ValidationError(f"launch template {spec} cannot be used: {e}")
        return template.id, version.number

    def why_irreversible(self):
        if not self.desired:
            return "the instance refresh has no desired configuration"
        if self.previous is None or irreversible(self.previous.get("Version")):
            return (
                "the Auto Scaling group launched no specific launch template version "
                "($Latest or $Default) before the instance refresh"
            )
        return None

    # -- the group --------------------------------------------------------

    def alive(self):
        return (
            self.backend.autoscaling_groups.get(self.group.name) is self.group
            and self in registry(self.backend).get(self.group.name, [])
        )

    def launch_from(self, spec):
        self.group._set_launch_configuration(None, spec, None)

    def template_of(self, instance_id):
        tags = self.backend.ec2_backend.tags.get(instance_id, {})
        version = tags.get(TEMPLATE_VERSION_TAG)
        return tags.get(TEMPLATE_ID_TAG), int(version) if version and version.isdigit() else None

    def members(self):
        return [s.instance.id for s in self.group.instance_states]

    def remaining(self):
        """The instances still to replace, in the group's order."""
        if self.rollback is not None:
            back = self.resolve(self.previous)
            return [
                i
                for i in self.members()
                if i not in self.rollback["launched"] and self.template_of(i) != back
            ]
        return [
            i
            for i in self.members()
            if i not in self.launched
            and not (self.skip_matching and self.template_of(i) == self.target)
        ]

    def terminate(self, ids, decrement=False):
        group, backend = self.group, self.backend
        group.instance_states = [s for s in group.instance_states if s.instance.id not in ids]
        backend.ec2_backend.terminate_instances(list(ids))
        backend.elbv2_backend.notify_terminate_instances(list(ids))
        if decrement:
            group.desired_capacity = (group.desired_capacity or 0) - len(ids)
        self.update_elbs()

    def launch(self, count):
        group, backend = self.group, self.backend
        before = set(self.members())
        group.replace_autoscaling_group_instances(count, group.get_propagated_tags())
        new = [i for i in self.members() if i not in before]
        if group.ec2_launch_template is not None and new:
            # moto tags the template's default version; AWS the one launched.
            version = group.ec2_launch_template.get_version(group.launch_template_version)
            backend.ec2_backend.create_tags(new, {TEMPLATE_VERSION_TAG: str(version.number)})
        running = [
            i for i in new if backend.ec2_backend.get_instance_by_id(i).state == "running"
        ]
        for arn in group.target_group_arns:
            target_group = backend.elbv2_backend.target_groups.get(arn)
            if target_group is not None and running:
                target_group.register([{"Id": i, "Port": target_group.port} for i in running])
        self.update_elbs()
        return new

    def update_elbs(self):
        try:
            self.backend.update_attached_elbs(self.group.name)
        except Exception:  # a classic load balancer gone: nothing to update
            pass

    def unhealthy(self, instance_id):
        """Why `instance_id` is not healthy, or None."""
        state = next((s for s in self.group.instance_states if s.instance.id == instance_id), None)
        if state is None:
            return f"{instance_id} is no longer in the group"
        if state.lifecycle_state != "InService" or state.health_status != "Healthy":
            return f"{instance_id} is {state.lifecycle_state}/{state.health_status} in the group"
        instance = self.backend.ec2_backend.get_instance_by_id(instance_id)
        if instance is None or instance.state != "running":
            return f"{instance_id} is {getattr(instance, 'state', 'gone')} (EC2 health check)"
        if (self.group.health_check_type or "EC2") == "ELB":
            for arn in self.group.target_group_arns:
                target_group = self.backend.elbv2_backend.target_groups.get(arn)
                if target_group is None:
                    continue
                health = target_group.health_for({"Id": instance_id}, self.backend.ec2_backend)
                if health.status != "healthy":
                    return (
                        f"{instance_id} is {health.status} in target group {target_group.name}"
                        f" ({health.reason})"
                    )
        return None

    # -- progress ---------------------------------------------------------

    def finish(self, status, reason=None):
        self.status = status
        self.reason = reason
        self.end_time = now()
        self.batch = None

    def batch_size(self, remaining):
        capacity = self.group.desired_capacity or len(self.members()) or 1
        keep = math.ceil(capacity * self.min_healthy / 100)
        return min(len(remaining), max(1, capacity - keep))

    def start_batch(self, remaining):
        chosen = remaining[: self.batch_size(remaining)]
        launch_first = self.min_healthy == 100
        if launch_first:
            self.group.desired_capacity = (self.group.desired_capacity or 0) + len(chosen)
            new = self.launch(len(chosen))
            old = chosen
        else:
            self.terminate(chosen)
            new = self.launch(len(chosen))
            old = []
        launched = self.rollback["launched"] if self.rollback is not None else self.launched
        launched.update(new)
        self.batch = {"new": new, "old": old, "started": time.monotonic()}

    def judge_batch(self):
        """None while the batch is under way, "" when it is done, else why
        it failed."""
        batch = self.batch
        elapsed = time.monotonic() - batch["started"]
        why = [w for w in (self.unhealthy(i) for i in batch["new"]) if w]
        if not why and elapsed >= self.warmup:
            if batch["old"]:
                self.terminate(batch["old"], decrement=True)
            return ""
        bound = self.warmup + UNHEALTHY_AFTER
        if elapsed >= bound:
            return (
                f"{len(why)} replacement instance(s) did not become healthy within "
                f"{bound:g} s: " + "; ".join(why)
            )
        return None

    def abandon_batch(self):
        """Drops the batch under way; a launched-first batch's replacements
        are terminated (its instances stay)."""
        batch, self.batch = self.batch, None
        if batch and batch["old"]:
            self.terminate(batch["new"], decrement=True)

    def start_rollback(self, reason):
        self.abandon_batch()
        self.rollback = {
            "reason": reason,
            "start": now(),
            "launched": set(),
            "updated": 0,
            "total": 0,
        }
        self.status = "RollbackInProgress"
        self.launch_from(self.previous)
        self.rollback["total"] = len(self.remaining())

    def fail(self, reason):
        if self.rollback is not None:
            self.abandon_batch()
            return self.finish("RollbackFailed", f"Rollback failed: {reason}")
        if self.auto_rollback:
            return self.start_rollback(f"Instance refresh failed: {reason}")
        self.abandon_batch()
        self.finish("Failed", reason)

    def advance(self):
        """One step; False once the refresh has ended."""
        if not self.alive():
            return False
        if self.status == "Pending":
            if self.desired:
                self.launch_from(self.desired)
            self.status = "InProgress"
        if self.batch is not None:
            verdict = self.judge_batch()
            if verdict is None:
                return True
            if verdict and self.status == "Cancelling":
                self.abandon_batch()
                self.finish("Cancelled", f"Cancelled due to user request; the last batch failed: {verdict}")
                return False
            if verdict:
                self.fail(verdict)
                return self.status in ACTIVE
            done = len(self.batch["new"])
            self.batch = None
            if self.rollback is not None:
                self.rollback["updated"] += done
            else:
                self.updated += done
        if self.status == "Cancelling":
            self.finish("Cancelled", "Cancelled due to user request.")
            return False
        remaining = self.remaining()
        if not remaining:
            if self.rollback is not None:
                self.finish("RollbackSuccessful", self.rollback["reason"])
            else:
                self.finish("Successful")
            return False
        self.start_batch(remaining)
        return True

    def run(self):
        while True:
            time.sleep(TICK)
            with LOCK:
                try:
                    going = self.advance()
                except Exception as e:  # report, never leave it hanging
                    status = "RollbackFailed" if self.rollback is not None else "Failed"
                    self.finish(status, f"the dafnck moto extension failed: {e!r}")
                    going = False
            if not going:
                return

    def start(self):
        threading.Thread(
            target=self.run, name=f"instance-refresh-{self.id}", daemon=True
        ).start()

    # -- the API ----------------------------------------------------------

    def describe(self):
        to_update = max(self.total - self.updated, 0)
        percent = 100 if self.total == 0 else min(100, self.updated * 100 // self.total)
        out = {
            "InstanceRefreshId": self.id,
            "AutoScalingGroupName": self.group.name,
            "Status": self.status,
            "StartTime": self.start_time,
            "PercentageComplete": percent,
            "InstancesToUpdate": to_update,
            "ProgressDetails": {
                "LivePoolProgress": {
                    "PercentageComplete": percent,
                    "InstancesToUpdate": to_update,
                }
            },
            "Preferences": self.preferences,
            "Strategy": self.strategy,
        }
        if self.reason:
            out["StatusReason"] = self.reason
        if self.end_time:
            out["EndTime"] = self.end_time
        if self.desired:
            out["DesiredConfiguration"] = {"LaunchTemplate": self.desired}
        if self.rollback is not None:
            total, done = self.rollback["total"], self.rollback["updated"]
            back_percent = 100 if total == 0 else min(100, done * 100 // total)
            back_to_update = max(total - done, 0)
            out["RollbackDetails"] = {
                "RollbackReason": self.rollback["reason"],
                "RollbackStartTime": self.rollback["start"],
                "PercentageCompleteOnRollback": back_percent,
                "InstancesToUpdateOnRollback": back_to_update,
                "ProgressDetailsOnRollback": {
                    "LivePoolProgress": {
                        "PercentageComplete": back_percent,
                        "InstancesToUpdate": back_to_update,
                    }
                },
            }
        return out


def active(backend, name):
    return next(
        (r for r in registry(backend).get(name, []) if r.status in ACTIVE), None
    )


def start_instance_refresh(self):
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    with LOCK:
        group = find_group(backend, name)
        if active(backend, name) is not None:
            raise InstanceRefreshInProgress()
        refresh = Refresh(
            backend,
            group,
            self._get_param("Strategy") or "Rolling",
            self._get_param("DesiredConfiguration") or {},
            self._get_param("Preferences") or {},
        )
        registry(backend).setdefault(name, []).insert(0, refresh)
        refresh.start()
    return ActionResult({"InstanceRefreshId": refresh.id})


def describe_instance_refreshes(self):
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    ids = self._get_param("InstanceRefreshIds") or []
    max_records = self._get_int_param("MaxRecords") or 50
    token = self._get_param("NextToken")
    with LOCK:
        find_group(backend, name)
        listed = [r for r in registry(backend).get(name, []) if not ids or r.id in ids]
        if token and not token.isdigit():
            raise InvalidNextToken()
        first = int(token) if token else 0
        page = listed[first : first + max_records]
        more = len(listed) > first + max_records
        return ActionResult(
            {
                "InstanceRefreshes": [r.describe() for r in page],
                "NextToken": str(first + max_records) if more else None,
            }
        )


def cancel_instance_refresh(self):
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    with LOCK:
        find_group(backend, name)
        refresh = active(backend, name)
        if refresh is None:
            raise ActiveInstanceRefreshNotFound(ActiveInstanceRefreshNotFound.message.format(name))
        if refresh.status == "Pending":
            refresh.finish("Cancelled", "Cancelled due to user request.")
        elif refresh.status != "Cancelling":
            refresh.status = "Cancelling"
        return ActionResult({"InstanceRefreshId": refresh.id})


def rollback_instance_refresh(self):
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    with LOCK:
        find_group(backend, name)
        refresh = active(backend, name)
        if refresh is None or refresh.status not in ("Pending", "InProgress", "Baking"):
            raise ActiveInstanceRefreshNotFound(ActiveInstanceRefreshNotFound.message.format(name))
        why = refresh.why_irreversible()
        if why:
            raise IrreversibleInstanceRefresh(f"The instance refresh cannot be rolled back: {why}")
        if refresh.status == "Pending":
            refresh.status = "InProgress"
        refresh.start_rollback("Rollback requested by the user.")
        return ActionResult({"InstanceRefreshId": refresh.id})


def extensions(request, full_url, headers):
    """`GET /moto-api/dafnck/extensions`: what this server adds to moto."""
    body = json.dumps({"instance_refresh": True})
    return 200, {"Content-Type": "application/json"}, body


def install():
    """Serves the four actions on moto's Auto Scaling responses, serialises
    the services they touch with the workers, and answers
    `/moto-api/dafnck/extensions`."""
    original = BaseResponse.call_action

    def call_action(self):
        if getattr(self, "service_name", None) in SERVICES:
            with LOCK:
                return original(self)
        return original(self)

    BaseResponse.call_action = call_action
    AutoScalingResponse.start_instance_refresh = start_instance_refresh
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh
    AutoScalingResponse.rollback_instance_refresh = rollback_instance_refresh

    from moto.moto_api._internal import urls

    urls.url_paths["{0}/moto-api/dafnck/extensions"] = extensions
