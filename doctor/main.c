/*
 * main.c: sse-doctor, the seed document's troubleshooting checklist run
 * for the device operator.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "checks.h"
#include "hosts.h"
#include "report.h"

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: sse-doctor [--root DIR] [--json] [--region R] "
            "[--timeout S]\n"
            "  --root DIR        the device root, as sse-connector's "
            "(default /)\n"
            "  --properties F    connector.properties (default under root)\n"
            "  --settings F      settings YAML (default under root)\n"
            "  --ports-file F    the connector's ports file (its local API "
            "port)\n"
            "  --api-port N      the local API's port (default: the "
            "configuration's)\n"
            "  --region R        probe region R (us, eu, apj) instead of the "
            "device's\n"
            "  --timeout S       deadline of each step of a probe, seconds "
            "(default 10)\n"
            "  --offline         no cloud probes: local checks only\n"
            "  --json            one JSON document instead of text\n"
            "  --verbose         text: the evidence of every check, passed "
            "too\n"
            "exit: 0 every check passed (warnings allowed), 1 a check "
            "failed,\n"
            "      2 bad usage or configuration\n");
}

/* A whole number in [lo, hi], or -1. */
static long
number(const char *text, long lo, long hi)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (end == text || *end != '\0' || v < lo || v > hi)
        return -1;
    return v;
}

int
main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"root", required_argument, NULL, 'r'},
        {"properties", required_argument, NULL, 'p'},
        {"settings", required_argument, NULL, 's'},
        {"ports-file", required_argument, NULL, 'P'},
        {"api-port", required_argument, NULL, 'a'},
        {"region", required_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 't'},
        {"offline", no_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct doc_opts o = {
        .root = "/",
        .api_port = -1,
        .timeout_ms = 10000,
        .proc_unix = "/proc/net/unix",
    };
    static struct dr_report rep;
    int c, json = 0, rc;
    bool verbose = false;
    long v;
    char *text;

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.root = optarg;
            break;
        case 'p':
            o.properties = optarg;
            break;
        case 's':
            o.settings = optarg;
            break;
        case 'P':
            o.ports_file = optarg;
            break;
        case 'a':
            v = number(optarg, 1, 65535);
            if (v < 0) {
                fprintf(stderr,
                        "sse-doctor: --api-port: expected a port "
                        "from 1 to 65535, got \"%s\"\n",
                        optarg);
                return 2;
            }
            o.api_port = (int)v;
            break;
        case 'R':
            if (!sse_region_valid(optarg)) {
                fprintf(stderr,
                        "sse-doctor: --region: expected us, eu or "
                        "apj, got \"%s\"\n",
                        optarg);
                return 2;
            }
            o.region = optarg;
            break;
        case 't':
            v = number(optarg, 1, 600);
            if (v < 0) {
                fprintf(stderr,
                        "sse-doctor: --timeout: expected seconds "
                        "from 1 to 600, got \"%s\"\n",
                        optarg);
                return 2;
            }
            o.timeout_ms = (unsigned)v * 1000;
            break;
        case 'o':
            o.skip_network = true;
            break;
        case 'j':
            json = 1;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sse-doctor: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    snprintf(rep.version, sizeof(rep.version), "%s", PROJECT_VERSION);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    doc_run(&o, &rep);
    curl_global_cleanup();
    if (json) {
        text = dr_json(&rep);
        if (text == NULL) {
            fprintf(stderr, "sse-doctor: cannot write JSON\n");
            return 2;
        }
        printf("%s\n", text);
        free(text);
    } else {
        dr_print_text(&rep, verbose, stdout);
    }
    rc = dr_exit_code(&rep);
    if (rc == 2 && rep.n > 0 && !json)
        fprintf(stderr, "sse-doctor: %s\n", rep.f[0].summary);
    return rc;
}
