// The nginx proxy_cache that items 8 and 9 compare portcache with: nginx's defaults (one worker,
// default proxy buffering, one cache zone) plus `proxy_cache_lock on`, in front of the bench's
// upstream nginx. `proxy_cache_valid` is needed because a static nginx sends no caching headers.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { nginxPreamble, tempPaths } from './lib.mjs';

const q = (path) => JSON.stringify(path);

/** nginx.conf of the proxy cache on `port`, caching into <dir>/cache what it fetches from the upstream on `upstreamPort`. */
export function proxyCacheNginxConf({ dir, port, upstreamPort }) {
  return `${nginxPreamble(dir)}
http {
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 100000;
  log_format cache '$msec $request_time "$request" $status $body_bytes_sent "$http_range" $upstream_cache_status';
  access_log ${q(`${dir}/access.log`)} cache;
${tempPaths(dir)}
  proxy_cache_path ${q(`${dir}/cache`)} levels=1:2 keys_zone=bench:16m;
  server {
    listen 127.0.0.1:${port};
    location /distfiles/ {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_cache bench;
      proxy_cache_valid 200 1d;
      proxy_cache_lock on;
    }
  }
}
`;
}

/**
 * Where that nginx keeps the response for `/distfiles/<name>` once it is complete (it writes a
 * temp file and renames it there): levels=1:2 of MD5 of the cache key. Without proxy_cache_key
 * that key is the proxied URL, `http://<upstream host:port><uri>` (the file's KEY: line shows it).
 * The file holds a header block, then the body.
 */
export function proxyCacheFile({ dir, upstreamPort }, name) {
  const md5 = createHash('md5').update(`http://127.0.0.1:${upstreamPort}/distfiles/${name}`).digest('hex');
  return join(dir, 'cache', md5.slice(-1), md5.slice(-3, -1), md5);
}

/** Parses the proxy cache's access log (format `cache` above). */
export function parseProxyCacheLog(text) {
  const entries = [];
  const pattern = /^(\S+) (\S+) "(\S+) (\S+)[^"]*" (\d+) (\d+) "([^"]*)" (\S+)$/;
  for (const line of text.split('\n')) {
    const m = pattern.exec(line);
    if (!m) continue;
    entries.push({
      msec: Number(m[1]),
      seconds: Number(m[2]),
      uri: m[4],
      status: Number(m[5]),
      bodyBytes: Number(m[6]),
      range: m[7] === '-' ? undefined : m[7],
      cacheStatus: m[8],
    });
  }
  return entries;
}
