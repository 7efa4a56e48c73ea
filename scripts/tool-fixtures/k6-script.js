// The k6 runs of scripts/tool-fixtures.sh: ITERATIONS iterations shared by VUS virtual
// users, each GET /, /slow and /missing (404, a failure for k6's http_req_failed) of
// BASE (of FREE, a closed port, with REFUSED set), named by the `name` tag.
// handleSummary writes its data as JSON to SUMMARY.
import http from 'k6/http';

export const options = {
  scenarios: {
    fixed: {
      executor: 'shared-iterations',
      vus: Number(__ENV.VUS || 4),
      iterations: Number(__ENV.ITERATIONS || 20),
    },
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

export default function () {
  const base = __ENV.REFUSED ? __ENV.FREE : __ENV.BASE;
  http.get(`${base}/`, { tags: { name: 'root' } });
  http.get(`${base}/slow`, { tags: { name: 'slow' } });
  http.get(`${base}/missing`, { tags: { name: 'missing' } });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data, null, 2) };
}
