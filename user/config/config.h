/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loading a configuration: files, directories and buffers of YAML into the
 * model (model.h, which this includes for its users). The implementation is
 * load.c, which hands each document to a front end: ours.h or k8s.h. model.h
 * describes the layout of user/config/.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/model.h"

/*
 * Parse and validate the configuration in paths, merged into one config.
 * Each path is a file or a directory; a directory stands for every *.yaml
 * and *.yml file directly in it (not hidden ones), sorted by name, like
 * `kubectl apply -f DIR` (one without any is an error). Each file may hold
 * several YAML documents ("---"); each document is sluice's own format (a
 * mapping with 'services' and/or 'workloads'), a Kubernetes object (with
 * 'apiVersion' and 'kind'; a List stands for its items) or empty. Istio
 * VirtualService/DestinationRule, Service, Pod, Endpoints and EndpointSlice
 * are read and, once every file is read, become services and workloads
 * (k8s.h); other kinds are skipped with a debug line. Services and workloads are concatenated in
 * the order read; names and (VIP, port, protocol) must be unique across all of them.
 *
 * On success returns 0 and *out owns a config to free with sl_config_free();
 * cfg->files lists every file read. On failure returns a negative errno
 * (-EINVAL for invalid input, -ENOENT etc. when a file cannot be read), *out
 * is NULL and diag holds at least one error naming the position.
 */
int sl_config_load_paths(const char *const paths[], size_t n, struct sl_config **out,
			 struct sl_diag *diag);

/*
 * Same, and *digest (if not NULL) is the digest of every file read, in order
 * (for one file, sl_config_digest() of its bytes), also when the config is
 * invalid; 0 when a file could not be read.
 */
int sl_config_load_paths_digest(const char *const paths[], size_t n, struct sl_config **out,
				struct sl_diag *diag, uint64_t *digest);

/* A configuration held in memory, read as if it were one more file. */
struct sl_config_buf {
	const char *name; /* FILE in diagnostics */
	const char *data;
	size_t len;
};

/* Flags of sl_config_load_sources(). */
enum {
	/*
	 * A configuration without any service is valid (a cluster where no
	 * VirtualService routes a Service yet): `run --kubernetes`.
	 */
	SL_LOAD_ALLOW_EMPTY = 1 << 0,
	/*
	 * Per-object isolation, for `run` on more than one file (a directory,
	 * several paths, or any buffer): what is wrong is left out on its own
	 * and listed in cfg->rejected, with its errors still in diag (saying
	 * "error") but no longer failing the load. A Kubernetes object with an
	 * error is left out alone; a file that is not valid YAML, cannot be
	 * read, or has an error outside any Kubernetes object (sluice's own
	 * format: its services refer to each other) is left out whole; of
	 * several VirtualServices for one Service the oldest wins (k8s.h). A
	 * single file given alone stays all or nothing.
	 */
	SL_LOAD_ISOLATE = 1 << 1,
	/*
	 * Compose every YAML document whole before reading it, instead of
	 * reading a 'services' list one service at a time as it is parsed
	 * (yaml_load.h): the same result with more memory; what the tests
	 * hold the streaming reader to.
	 */
	SL_LOAD_WHOLE_DOCS = 1 << 2,
};

/*
 * sl_config_load_paths_digest() over paths (n may be 0) and then bufs, all
 * merged into one configuration; the digest covers every file and buffer
 * (also the ones left out). flags: SL_LOAD_*.
 */
int sl_config_load_sources(const char *const paths[], size_t n, const struct sl_config_buf *bufs,
			   size_t n_bufs, unsigned int flags, struct sl_config **out,
			   struct sl_diag *diag, uint64_t *digest);

/* One path: sl_config_load_paths(&path, 1, ...). */
int sl_config_load_file(const char *path, struct sl_config **out, struct sl_diag *diag);

/* From a buffer, as one file; name is used as FILE in diagnostics. */
int sl_config_load_buf(const char *name, const char *buf, size_t len, struct sl_config **out,
		       struct sl_diag *diag);

/*
 * The files paths stand for, in the order sl_config_load_paths() reads them.
 * Also on error (a missing path, an empty directory: reported in diag, and a
 * negative errno returned), *files lists what was found. Free with
 * sl_config_free_files().
 */
int sl_config_list_files(const char *const paths[], size_t n, char ***files, size_t *n_files,
			 struct sl_diag *diag);
void sl_config_free_files(char **files, size_t n);

/* True for a file name a directory given as config contributes: *.yaml, *.yml, not hidden. */
bool sl_config_yaml_name(const char *name);

/* "a, b, c": paths for messages; malloc'd, NULL without memory. */
char *sl_config_paths_str(const char *const paths[], size_t n);

/* FNV-1a of a config file's bytes: "is this the file applied last?" */
uint64_t sl_config_digest(const char *buf, size_t len);

/* Read a whole file into a malloc'd buffer; 0 or a negative errno. */
int sl_read_file(const char *path, char **buf, size_t *len);

#endif /* SLUICE_CONFIG_H */
