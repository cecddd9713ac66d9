/**
 * The server's counters and latency histograms in the Prometheus text exposition format
 * (version 0.0.4): what `GET /metrics` returns. Small on purpose: counters and
 * histograms with fixed label sets are all the server needs, and a scrape must not
 * allocate per series.
 */

/** Latency bucket upper bounds in seconds (0.1 ms … 2.5 s). */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class ServerMetrics {
  private readonly requests = new Map<string, { route: string; status: string; n: number }>();
  private readonly latency = new Map<string, Histogram>();
  feedbackEvents = 0;

  /** Counts one finished request and its latency. */
  record(route: string, status: number, seconds: number): void {
    const key = `${route} ${status}`;
    const r = this.requests.get(key);
    if (r) r.n++;
    else this.requests.set(key, { route, status: String(status), n: 1 });
    let h = this.latency.get(route);
    if (!h) this.latency.set(route, (h = { counts: new Array(LATENCY_BUCKETS.length).fill(0), sum: 0, count: 0 }));
    for (let b = 0; b < LATENCY_BUCKETS.length; b++) if (seconds <= LATENCY_BUCKETS[b]) h.counts[b]++;
    h.sum += seconds;
    h.count++;
  }

  /** The exposition text; `gauges` are the live values read at scrape time. */
  render(gauges: { modelVersion: number; queueDepth: number; eventsApplied: number; users: number; items: number }): string {
    const out: string[] = [];
    out.push('# HELP gnnrl_http_requests_total HTTP requests answered, by route and status.');
    out.push('# TYPE gnnrl_http_requests_total counter');
    for (const r of [...this.requests.values()].sort((a, b) => a.route.localeCompare(b.route) || a.status.localeCompare(b.status))) {
      out.push(`gnnrl_http_requests_total${labels({ route: r.route, status: r.status })} ${r.n}`);
    }
    out.push('# HELP gnnrl_http_request_duration_seconds Time from request start to the last byte written, by route.');
    out.push('# TYPE gnnrl_http_request_duration_seconds histogram');
    for (const [route, h] of [...this.latency.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      LATENCY_BUCKETS.forEach((le, b) => out.push(`gnnrl_http_request_duration_seconds_bucket${labels({ route, le: String(le) })} ${h.counts[b]}`));
      out.push(`gnnrl_http_request_duration_seconds_bucket${labels({ route, le: '+Inf' })} ${h.count}`);
      out.push(`gnnrl_http_request_duration_seconds_sum${labels({ route })} ${h.sum}`);
      out.push(`gnnrl_http_request_duration_seconds_count${labels({ route })} ${h.count}`);
    }
    const gauge = (name: string, help: string, v: number, type = 'gauge') => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${v}`);
    };
    gauge('gnnrl_model_version', 'Model version now served.', gauges.modelVersion);
    gauge('gnnrl_observe_queue_depth', 'Feedback events waiting to be folded in.', gauges.queueDepth);
    gauge('gnnrl_feedback_events_received_total', 'Feedback events accepted by POST /feedback.', this.feedbackEvents, 'counter');
    gauge('gnnrl_feedback_events_applied_total', 'Feedback events folded into a model version.', gauges.eventsApplied, 'counter');
    gauge('gnnrl_users', 'Users the served version knows.', gauges.users);
    gauge('gnnrl_items', 'Items the served version knows.', gauges.items);
    return out.join('\n') + '\n';
  }
}
