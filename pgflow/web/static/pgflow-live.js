/* pgflow-live.js: keep a pgflow run (or every run) up to date in a web page.
 *
 * No dependencies. Talks to the Server-Sent Events endpoint of pgflow.web.sse:
 *
 *   const live = PgflowLive.followRun("/pgflow/runs/" + runId, {
 *     onChange(run, change) { render(run); },        // after the snapshot and every change
 *     onFinished(run, finished) { ... },             // finished.outcome, finished.failed_steps
 *     onError(error) { ... },                        // the browser reconnects by itself
 *   });
 *   live.run;  live.close();
 *
 *   const index = PgflowLive.followRuns("/pgflow/runs?flow=process_order", {
 *     onChange(runs, change) { ... },                // runs: Map run_id -> run
 *   });
 *
 * With "?tasks=progress" on a one-run URL, steps carry task_counts ({"completed": 812, ...},
 * updated by step:progress messages) instead of tasks. A field too large for a snapshot is
 * null, named with its size in the object's "truncated".
 *
 * A run is the JSON of pgflow.models.Run: {run_id, flow_slug, status, input, output,
 * remaining_steps, started_at, ..., step_states: [{step_slug, status, output, error_message,
 * ..., tasks: [{task_index, status, attempts_count, ...}]}]}.
 *
 * Events are applied with the same rules as the Python LiveRun (pgflow/live/state.py): statuses
 * only move forward (run started < completed < failed; step created < started < completed <
 * failed = skipped; task by attempt, then queued < started < retrying < completed = failed),
 * lower-ranked events only fill empty fields, so duplicated and out-of-order events are
 * harmless. Every snapshot (first connection, reconnection, server-side resync) replaces the run.
 */
(function (root) {
  "use strict";

  var RUN_RANK = { started: 0, completed: 1, failed: 2 };
  var STEP_RANK = { created: 0, started: 1, completed: 2, failed: 3, skipped: 3 };
  var EVENTS = [
    "run:started", "run:completed", "run:failed", "run:cancelled",
    "step:started", "step:completed", "step:failed", "step:skipped",
    "task:started", "task:completed", "task:failed",
  ];

  function same(a, b) {
    return a === b || JSON.stringify(a) === JSON.stringify(b);
  }

  function pick(payload, names) {
    var found = {};
    names.forEach(function (name) {
      if (Object.prototype.hasOwnProperty.call(payload, name)) found[name] = payload[name];
    });
    return found;
  }

  // Forward: set the status and every field. Otherwise: fill only fields that are still empty.
  function merge(target, forward, fields, status) {
    var changed = false;
    Object.keys(fields).forEach(function (key) {
      var value = fields[key];
      if (forward ? !same(target[key], value) : (value != null && target[key] == null)) {
        target[key] = value;
        changed = true;
      }
    });
    if (forward && status && target.status !== status) {
      target.status = status;
      changed = true;
    }
    return changed;
  }

  function findStep(run, slug) {
    run.step_states = run.step_states || [];
    for (var i = 0; i < run.step_states.length; i++) {
      if (run.step_states[i].step_slug === slug) return run.step_states[i];
    }
    var step = { step_slug: slug, status: "created", remaining_tasks: null, remaining_deps: 0, tasks: [] };
    run.step_states.push(step);
    return step;
  }

  function applyRun(run, kind, p) {
    var status = kind, fields;
    if (kind === "completed") fields = Object.assign(pick(p, ["output", "completed_at"]), { remaining_steps: 0 });
    else if (kind === "failed") fields = pick(p, ["failed_at"]);
    else if (kind === "cancelled") {  // a cancelled run is a failed run that says so
      status = "failed";
      fields = Object.assign(pick(p, ["cancelled_at"]), { cancel_reason: p.reason == null ? null : p.reason });
    }
    else fields = pick(p, ["input", "started_at", "remaining_steps"]);
    return merge(run, RUN_RANK[status] > (RUN_RANK[run.status] || 0), fields, status);
  }

  function applyStep(run, kind, p) {
    var step = findStep(run, p.step_slug), fields;
    if (kind === "started") fields = pick(p, ["started_at", "remaining_tasks", "remaining_deps", "initial_tasks"]);
    else if (kind === "completed") fields = Object.assign(pick(p, ["output", "started_at", "completed_at"]), { remaining_tasks: 0 });
    else if (kind === "failed") fields = pick(p, ["error_message", "failed_at"]);
    else fields = Object.assign(pick(p, ["skip_reason", "skipped_at", "error_message"]), { remaining_tasks: null });
    var forward = STEP_RANK[kind] > (STEP_RANK[step.status] || 0);
    if (!forward) {
      delete fields.remaining_tasks;
      delete fields.remaining_deps;
    } else if (kind !== "skipped") {
      fields.remaining_deps = 0;
    }
    return merge(step, forward, fields, kind);
  }

  function taskRank(task) {
    var phase = { queued: task.attempts_count ? 2 : 0, started: 1, skipped: 2.5, cancelled: 2.5, completed: 3,
                  failed: 3 }[task.status] || 0;
    return [task.attempts_count || 0, phase];
  }

  function applyTask(run, kind, p) {
    var step = findStep(run, p.step_slug);
    step.tasks = step.tasks || [];
    var task = step.tasks.filter(function (t) { return t.task_index === p.task_index; })[0];
    if (!task) {
      task = { run_id: run.run_id, flow_slug: run.flow_slug, step_slug: p.step_slug, task_index: p.task_index,
               status: "queued", attempts_count: 0 };
      step.tasks.push(task);
      step.tasks.sort(function (a, b) { return a.task_index - b.task_index; });
    }
    var attempt = p.attempt != null ? p.attempt : task.attempts_count;
    var fields = { attempts_count: attempt }, status, phase;
    if (kind === "started") {
      status = "started"; phase = 1;
      Object.assign(fields, pick(p, ["started_at"]));
      if (p.worker_id) fields.last_worker_id = p.worker_id;
    } else if (kind === "completed") {
      status = "completed"; phase = 3;
      Object.assign(fields, pick(p, ["output", "completed_at"]));
    } else if (p.will_retry) {
      status = "queued"; phase = 2;
      Object.assign(fields, pick(p, ["error_message"]));
    } else {
      status = "failed"; phase = 3;
      Object.assign(fields, pick(p, ["error_message", "failed_at"]));
    }
    var rank = taskRank(task);
    var forward = attempt > rank[0] || (attempt === rank[0] && phase > rank[1]);
    if (forward) {
      if (attempt > task.attempts_count) fields = Object.assign({ started_at: null, last_worker_id: null }, fields);
      if (status === "queued") fields.started_at = null;
      return merge(task, true, fields, status);
    }
    if (attempt === task.attempts_count) return merge(task, false, fields);
    return merge(task, false, pick(fields, ["error_message"]));
  }

  // Tasks still queued or started end with their step (skipped) or their run (cancelled): the
  // engine announces only step:skipped / run:failed for them.
  function deriveTaskEnds(run) {
    (run.step_states || []).forEach(function (step) {
      var end = step.status === "skipped" ? "skipped" : run.status === "failed" ? "cancelled" : null;
      if (!end) return;
      (step.tasks || []).forEach(function (t) {
        if (t.status === "queued" || t.status === "started") t.status = end;
      });
    });
  }

  // remaining_steps and remaining_tasks follow from the statuses (so they stay idempotent).
  function deriveCounters(run) {
    var steps = run.step_states || [];
    steps.forEach(function (step) {
      if ((step.status === "started" || step.status === "failed") && step.started_at && step.initial_tasks != null) {
        var done = (step.tasks || []).filter(function (t) { return t.status === "completed"; }).length;
        step.remaining_tasks = Math.max(step.initial_tasks - done, 0);
      }
    });
    if (run.status === "completed") run.remaining_steps = 0;
    else if (steps.length) {
      run.remaining_steps = steps.filter(function (s) { return s.status !== "completed" && s.status !== "skipped"; }).length;
    }
  }

  /** Apply one event payload to a run object in place; returns true when something changed. */
  function applyEvent(run, payload) {
    if (!run || !payload || payload.run_id !== run.run_id) return false;
    var parts = String(payload.event_type || "").split(":");
    var changed = false;
    if (parts[0] === "run" && (parts[1] in RUN_RANK || parts[1] === "cancelled")) changed = applyRun(run, parts[1], payload);
    else if (parts[0] === "step" && parts[1] in STEP_RANK) changed = applyStep(run, parts[1], payload);
    else if (parts[0] === "task") changed = applyTask(run, parts[1], payload);
    if (changed) {
      deriveTaskEnds(run);
      deriveCounters(run);
    }
    return changed;
  }

  function call(callback) {
    if (typeof callback !== "function") return;
    try {
      callback.apply(null, Array.prototype.slice.call(arguments, 1));
    } catch (error) {
      if (root.console) root.console.error("pgflow-live: a callback failed", error);
    }
  }

  /** Follow one run; the stream ends (and the EventSource closes) once the run has finished. */
  function followRun(url, options) {
    options = options || {};
    var source = new root.EventSource(url);
    var handle = { run: null, finished: null, source: source, close: function () { source.close(); } };
    source.addEventListener("snapshot", function (e) {
      var data = JSON.parse(e.data);
      handle.run = data.run;
      call(options.onChange, handle.run, { type: "snapshot", reason: data.reason });
    });
    EVENTS.forEach(function (name) {
      source.addEventListener(name, function (e) {
        var payload = JSON.parse(e.data);
        if (applyEvent(handle.run, payload)) call(options.onChange, handle.run, { type: name, event: payload });
      });
    });
    // ?tasks=progress streams: a step's task counts instead of its task events
    source.addEventListener("step:progress", function (e) {
      var p = JSON.parse(e.data);
      if (!handle.run || p.run_id !== handle.run.run_id) return;
      var step = findStep(handle.run, p.step_slug);
      step.task_counts = p.tasks;
      if (p.remaining_tasks != null) step.remaining_tasks = p.remaining_tasks;
      call(options.onChange, handle.run, { type: "step:progress", event: p });
    });
    source.addEventListener("run:finished", function (e) {
      handle.finished = JSON.parse(e.data);
      source.close();
      call(options.onFinished, handle.run, handle.finished);
    });
    source.onerror = function (error) { if (!handle.finished) call(options.onError, error); };
    return handle;
  }

  /** Follow every run (of the flow named in the URL's ?flow=); runs is a Map run_id -> run. */
  function followRuns(url, options) {
    options = options || {};
    var source = new root.EventSource(url);
    var handle = { runs: new Map(), source: source, close: function () { source.close(); } };
    source.addEventListener("snapshot", function (e) {
      var data = JSON.parse(e.data);
      handle.runs = new Map(data.runs.map(function (r) { return [r.run_id, r]; }));
      call(options.onChange, handle.runs, { type: "snapshot", reason: data.reason });
    });
    EVENTS.concat(["run:finished"]).forEach(function (name) {
      source.addEventListener(name, function (e) {
        var payload = JSON.parse(e.data);
        var run = handle.runs.get(payload.run_id);
        if (!run) {
          run = { run_id: payload.run_id, flow_slug: payload.flow_slug, status: "started", step_states: [] };
          handle.runs.set(payload.run_id, run);
        }
        var changed = applyEvent(run, payload) || name === "run:finished";
        if (changed) call(options.onChange, handle.runs, { type: name, event: payload, run: run });
      });
    });
    source.onerror = function (error) { call(options.onError, error); };
    return handle;
  }

  root.PgflowLive = { applyEvent: applyEvent, followRun: followRun, followRuns: followRuns, EVENTS: EVENTS };
})(typeof window !== "undefined" ? window : globalThis);
