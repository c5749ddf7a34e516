// sendfile(2) for portcache's hits: the kernel sends a cached file's bytes from the page cache
// to the client's socket, where Node would read them into a buffer and write them out again.
// Built by scripts/build-native.mjs into dist/native/sendfile.node (Node-API, so any Node >= 20
// loads it); src/common/sendfile.ts loads it and falls back to reads and writes without it.
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <uv.h>

// One call sends at most ~2 GiB; callers loop.
#define MAX_COUNT 0x7ffff000

static ssize_t send_some(int out, int in, int64_t position, int64_t count) {
  if (count > MAX_COUNT) count = MAX_COUNT;
  off_t offset = (off_t)position;
  ssize_t sent;
  do {
    sent = sendfile(out, in, &offset, (size_t)count);
  } while (sent < 0 && errno == EINTR);
  return sent < 0 ? -(ssize_t)errno : sent;
}

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
  napi_value result;
  napi_create_int64(env, (int64_t)send_some(out, in, position, count), &result);
  return result;
}

// The rest of a body, sent from the event loop without JavaScript: each time the socket can
// take bytes, one sendfile of at most `turn` bytes (level-triggered, so a socket that still has
// room is served again on the next turn of the loop, after the others). Node's stream machinery
// would otherwise be woken by a small write to learn when the socket has room, once per
// socket-buffer's worth of bytes. The poll watches a duplicate of the socket's descriptor:
// libuv allows one watcher per descriptor, and Node's own watches the original.
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int socket; // the duplicate
  int file;
  int64_t position;
  int64_t end;
  int64_t turn;
  int64_t sent;
  int finished;
  // Owners: the libuv handle (until closed) and the JavaScript object (until collected).
  int owners;
} Loop;

static void release(Loop* loop) {
  if (--loop->owners == 0) free(loop);
}

static void on_closed(uv_handle_t* handle) {
  release((Loop*)handle->data);
}

// Stops polling and lets go of the duplicate; the file descriptor is never touched again.
static void stop(Loop* loop) {
  loop->finished = 1;
  uv_poll_stop(&loop->poll);
  close(loop->socket);
  uv_close((uv_handle_t*)&loop->poll, on_closed);
}

// Lets go of the JavaScript callback and its async context: it will not be called (again).
static void forget_callback(Loop* loop) {
  napi_delete_reference(loop->env, loop->callback);
  loop->callback = NULL;
  napi_async_destroy(loop->env, loop->async);
  loop->async = NULL;
}

// status: 0 all sent, 1 the file ended early, -errno an error.
static void finish(Loop* loop, int64_t status) {
  napi_env env = loop->env;
  stop(loop);
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, resource, argv[2], ignored;
  napi_get_reference_value(env, loop->callback, &callback);
  napi_create_object(env, &resource);
  napi_create_int64(env, status, &argv[0]);
  napi_create_int64(env, loop->sent, &argv[1]);
  if (napi_make_callback(env, loop->async, resource, callback, 2, argv, &ignored) ==
      napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  forget_callback(loop);
  napi_close_handle_scope(env, scope);
}

static void on_writable(uv_poll_t* handle, int status, int events) {
  Loop* loop = (Loop*)handle->data;
  if (loop->finished) return;
  if (status < 0) {
    finish(loop, status);
    return;
  }
  int64_t count = loop->end - loop->position;
  if (count > loop->turn) count = loop->turn;
  ssize_t sent = send_some(loop->socket, loop->file, loop->position, count);
  if (sent == -EAGAIN) return;
  if (sent <= 0) {
    finish(loop, sent == 0 ? 1 : sent);
    return;
  }
  loop->position += sent;
  loop->sent += sent;
  if (loop->position >= loop->end) finish(loop, 0);
}

static void finalize(napi_env env, void* data, void* hint) {
  release((Loop*)data);
}

// sendRest(socketFd, fileFd, position, end, turn, callback(status, sent)): a handle for
// sentSoFar() and cancel(). The callback comes once, from the event loop, unless cancelled.
static napi_value SendRest(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  int32_t socket = -1, file = -1;
  int64_t position = -1, end = -1, turn = 0;
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6 ||
      napi_get_value_int32(env, argv[0], &socket) != napi_ok ||
      napi_get_value_int32(env, argv[1], &file) != napi_ok ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok ||
      napi_get_value_int64(env, argv[3], &end) != napi_ok ||
      napi_get_value_int64(env, argv[4], &turn) != napi_ok ||
      napi_typeof(env, argv[5], &type) != napi_ok || type != napi_function || socket < 0 ||
      file < 0 || position < 0 || end < position || turn <= 0) {
    napi_throw_type_error(env, NULL,
                          "sendRest(socketFd, fileFd, position, end, turn, callback): bad arguments");
    return NULL;
  }
  uv_loop_t* uv;
  if (napi_get_uv_event_loop(env, &uv) != napi_ok) {
    napi_throw_error(env, NULL, "sendRest: no event loop");
    return NULL;
  }
  int duplicate = dup(socket);
  if (duplicate < 0) {
    napi_throw_error(env, NULL, "sendRest: cannot duplicate the socket's descriptor");
    return NULL;
  }
  Loop* loop = calloc(1, sizeof(Loop));
  if (!loop || uv_poll_init(uv, &loop->poll, duplicate) != 0) {
    free(loop);
    close(duplicate);
    napi_throw_error(env, NULL, "sendRest: cannot poll the socket");
    return NULL;
  }
  loop->poll.data = loop;
  loop->env = env;
  loop->socket = duplicate;
  loop->file = file;
  loop->position = position;
  loop->end = end;
  loop->turn = turn;
  loop->owners = 2;
  napi_value name, handle;
  napi_create_string_utf8(env, "portcache:sendRest", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[5], 1, &loop->callback);
  napi_async_init(env, NULL, name, &loop->async);
  napi_create_external(env, loop, finalize, NULL, &handle);
  uv_poll_start(&loop->poll, UV_WRITABLE, on_writable);
  return handle;
}

static Loop* loop_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a sendRest() handle");
    return NULL;
  }
  return (Loop*)data;
}

// sentSoFar(handle): bytes the loop has sent.
static napi_value SentSoFar(napi_env env, napi_callback_info info) {
  Loop* loop = loop_of(env, info);
  if (!loop) return NULL;
  napi_value result;
  napi_create_int64(env, loop->sent, &result);
  return result;
}

// cancel(handle): stops the loop without calling back; the file descriptor is free to close.
static napi_value Cancel(napi_env env, napi_callback_info info) {
  Loop* loop = loop_of(env, info);
  if (!loop) return NULL;
  if (!loop->finished) {
    stop(loop);
    forget_callback(loop);
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "sendfile", NAPI_AUTO_LENGTH, Sendfile, NULL, &fn);
  napi_set_named_property(env, exports, "sendfile", fn);
  napi_create_function(env, "sendRest", NAPI_AUTO_LENGTH, SendRest, NULL, &fn);
  napi_set_named_property(env, exports, "sendRest", fn);
  napi_create_function(env, "sentSoFar", NAPI_AUTO_LENGTH, SentSoFar, NULL, &fn);
  napi_set_named_property(env, exports, "sentSoFar", fn);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, Cancel, NULL, &fn);
  napi_set_named_property(env, exports, "cancel", fn);
  return exports;
}
