/*
 * gs_server.h - the simulator's HTTP(S) server: libmicrohttpd around
 * gs_sim, with added latency served by suspending the connection (so a
 * slow answer never holds a worker thread) and dropped connections.
 */
#ifndef GRAPHSIM_SERVER_H
#define GRAPHSIM_SERVER_H

#include <stddef.h>

#include "gs_config.h"

struct gs_server;

/*
 * Binds cfg->listen, loads the TLS certificate and key when given, and
 * starts cfg->threads worker threads. cfg must outlive the server. Returns
 * NULL with a reason in errstr.
 */
struct gs_server *gs_server_start(struct gs_config *cfg, char *errstr,
                                  size_t errsz);

/* The advertised base URL ("http://127.0.0.1:PORT") and the bound port. */
const char *gs_server_url(const struct gs_server *srv);
unsigned gs_server_port(const struct gs_server *srv);

/* Stops accepting, answers or closes what is in flight, frees all. */
void gs_server_stop(struct gs_server *srv);

#endif /* GRAPHSIM_SERVER_H */
