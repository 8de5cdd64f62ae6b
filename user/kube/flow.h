/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A JSON value as one line of YAML in flow style, for the stream that
 * `run --kubernetes` hands to the config loader (kube.c renders one object
 * per document). JSON text is almost YAML, but not quite: a JSON string may
 * hold any byte, while libyaml refuses invalid UTF-8 and raw characters
 * outside YAML's printable set (DEL, C1 controls) anywhere in the stream,
 * reads NEL, LS and PS as line breaks, and ends an implicit key after 1,024
 * characters. One such string in one object (a label value, an annotation
 * key) would make the whole stream unreadable and every object of the
 * cluster left out, so strings are written here with YAML's escapes.
 */
#ifndef SLUICE_KUBE_FLOW_H
#define SLUICE_KUBE_FLOW_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * o as flow YAML: JSON's syntax, but every string double-quoted with
 * everything outside printable ASCII escaped (\uXXXX, \UXXXXXXXX; invalid
 * UTF-8 as U+FFFD), and keys longer than a Kubernetes name can be written
 * as explicit keys ("? "). Reads back as the same value. malloc'd, *len
 * its length; NULL without memory.
 */
char *sl_kube_flow_text(json_object *o, size_t *len);

#endif /* SLUICE_KUBE_FLOW_H */
