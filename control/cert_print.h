/* SPDX-License-Identifier: MIT */
#ifndef CTL_CERT_PRINT_H
#define CTL_CERT_PRINT_H

/*
 * A certificate as nebula-cert 1.6.1 prints it: the text form of
 * NebulaCertificate.String() and the JSON of its MarshalJSON(), with times in
 * the local zone. Scripts parse both, so they match field for field.
 */

#include <stdio.h>

struct ctl_cert;

/* Both return 0 or -ENOMEM (fingerprint). No trailing newline is printed. */
int ctl_cert_print_text(FILE *out, const struct ctl_cert *c);
int ctl_cert_print_json(FILE *out, const struct ctl_cert *c);

#endif /* CTL_CERT_PRINT_H */
