"""Pipelines as GitLab runs them: stage after stage, made by a push, described by CI lint.

Theory of operation. A pipeline's jobs belong to stages, in the order of the pipeline's
`stages` (else the order the jobs name them). `StageRunner` keeps GitLab's stage-based
processing (`Ci::PipelineProcessing`, each job `when: on_success`): a job of a later stage is
`created` until every job of the stages before it has finished; then, if none of those failed
(a job with `allow_failure` does not count), it becomes `pending` and a runner picks it up
after its `pending_seconds` (else the instance's `retry_pending_seconds`); if one failed, it
is `skipped`. It listens to every job change, so a stage moves on the moment its last job
ends, by whatever path (script, cancel, the control API).

`new_pipeline` is what a push does (the control API's `POST /-/sandbox/pipelines`): a new
pipeline of the given jobs, its first stage pending, the rest created. `lint` answers
`GET /projects/:id/ci/lint?content_ref=SHA&include_jobs=true` as GitLab's CI Lint API does
(`lib/api/lint.rb`, `Entities::Ci::Lint::Result`): the jobs of the configuration at that
commit, with their `script` as the runner echoes it.
"""

from __future__ import annotations

from typing import Any

from jobterm.sandbox.state import FINISHED, Job, Pipeline, Project, SandboxState


def stages_of(state: SandboxState, pipeline: Pipeline) -> list[str]:
    if pipeline.stages:
        return list(pipeline.stages)
    order: list[str] = []
    for job in state.jobs_of_pipeline(pipeline):
        if job.stage not in order:
            order.append(job.stage)
    return order


class StageRunner:
    """Moves a pipeline's created jobs on, stage after stage; see the module docstring."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        state.on_job_change(self._on_change)

    def _on_change(self, job: Job) -> None:
        pipeline = self.state.pipelines.get(job.pipeline_id)
        if job.status in FINISHED and pipeline is not None:
            advance(self.state, pipeline)


def advance(state: SandboxState, pipeline: Pipeline) -> None:
    """Move the pipeline's created jobs on as far as its finished stages allow."""
    now = state.clock()
    failed = False
    for stage in stages_of(state, pipeline):
        jobs = [j for j in _latest(state, pipeline) if j.stage == stage]
        waiting = [j for j in jobs if j.status == "created"]
        if waiting:
            for job in waiting:
                if job.pending_seconds is None:
                    job.pending_seconds = state.settings.retry_pending_seconds
                state.set_job_status(job, "skipped" if failed else "pending", now)
            if not failed:
                return  # this stage runs now; the next waits for it
        if any(j.status not in FINISHED for j in jobs):
            return
        failed = failed or any(j.status == "failed" and not j.allow_failure for j in jobs)


def _latest(state: SandboxState, pipeline: Pipeline) -> list[Job]:
    """Each job name's latest try (a retry replaces the try it retried)."""
    latest: dict[str, Job] = {}
    for job in state.jobs_of_pipeline(pipeline):
        latest[job.name] = job
    return list(latest.values())


def new_pipeline(state: SandboxState, body: dict[str, Any], now: float) -> Pipeline:
    """A pipeline of `body["jobs"]` (config [[jobs]] entries, without ids) in
    `body["project"]` on `body["ref"]`, started by `body["user"]`, as a push makes one."""
    from jobterm.sandbox.config import add_job

    project = state.find_project(str(body.get("project", "demo/webapp")))
    if project is None:
        raise ValueError(f"no project {body.get('project')!r}")
    jobs = body.get("jobs")
    if not isinstance(jobs, list) or not jobs or not all(isinstance(j, dict) for j in jobs):
        raise ValueError("jobs must be a list of job entries")
    user = str(body.get("user", "demo"))
    pipeline = Pipeline(
        id=state.next_id(state.pipelines, 1000),
        project_id=project.id,
        ref=str(body.get("ref", project.default_branch)),
        user=user,
        created_at=now,
        stages=[str(s) for s in body.get("stages", [])],
    )
    state.pipelines[pipeline.id] = pipeline
    for entry in jobs:
        values = {"ref": pipeline.ref, "user": user, **entry, "status": "created"}
        add_job(state, {**values, "project": project.id, "pipeline": pipeline.id}, now)
    for job in state.jobs_of_pipeline(pipeline):
        job.created_at = now
    advance(state, pipeline)  # its first stage is pending now
    return pipeline


def lint(state: SandboxState, project: Project, content_ref: str | None) -> dict[str, Any]:
    """The CI Lint API's answer for the configuration at `content_ref` (a commit SHA, or a
    branch: its newest pipeline), with the jobs."""
    pipelines = [p for p in state.pipelines.values() if p.project_id == project.id]
    ref = content_ref or project.default_branch
    chosen = [p for p in pipelines if p.sha == ref] or sorted(
        (p for p in pipelines if p.ref == ref), key=lambda p: -p.id
    )
    jobs = _latest(state, chosen[0]) if chosen else []
    return {
        "valid": bool(chosen),
        "errors": [] if chosen else [f"Failed to load CI/CD config file for {ref}"],
        "warnings": [],
        "merged_yaml": "",
        "includes": [],
        "jobs": [_lint_job(job) for job in jobs],
    }


def _lint_job(job: Job) -> dict[str, Any]:
    script = job.script if job.script is not None else [f"./{job.name.replace(':', '-')}.sh"]
    return {
        "name": job.name,
        "stage": job.stage,
        "before_script": [],
        "script": list(script),
        "after_script": [],
        "tag_list": [],
        "environment": None,
        "when": "on_success",
        "allow_failure": job.allow_failure,
        "only": {"refs": ["branches", "tags"]},
        "except": None,
        "needs": None,
    }
