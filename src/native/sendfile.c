// sendfile(2) for portcache's hits: the kernel sends a cached file's bytes from the page cache
// to the client's socket, where Node would read them into a buffer and write them out again.
// Built by scripts/build-native.mjs into dist/native/sendfile.node (Node-API, so any Node >= 20
// loads it); src/common/sendfile.ts loads it and falls back to reads and writes without it.
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <sys/sendfile.h>

// sendfile(socketFd, fileFd, position, count): bytes sent (0: the file ends at position), or
// -errno (-EAGAIN: the socket's buffer is full; the socket is non-blocking, as libuv keeps it).
static napi_value Sendfile(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t out = -1, in = -1;
  int64_t position = -1, count = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
      napi_get_value_int32(env, argv[0], &out) != napi_ok ||
      napi_get_value_int32(env, argv[1], &in) != napi_ok ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok ||
      napi_get_value_int64(env, argv[3], &count) != napi_ok || out < 0 || in < 0 || position < 0 ||
      count < 0) {
    napi_throw_type_error(env, NULL, "sendfile(socketFd, fileFd, position, count): bad arguments");
    return NULL;
  }
  // One call sends at most ~2 GiB; the caller loops.
  if (count > 0x7ffff000) count = 0x7ffff000;
  off_t offset = (off_t)position;
  ssize_t sent;
  do {
    sent = sendfile(out, in, &offset, (size_t)count);
  } while (sent < 0 && errno == EINTR);
  napi_value result;
  napi_create_int64(env, sent < 0 ? -(int64_t)errno : (int64_t)sent, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "sendfile", NAPI_AUTO_LENGTH, Sendfile, NULL, &fn);
  napi_set_named_property(env, exports, "sendfile", fn);
  return exports;
}
