/*
 * cmd_certs.c: `ssesim certs`, the private PKI on disk (lib/pki.h).
 *
 * Prints one line per file it wrote or kept, then the root's SHA-256
 * fingerprint. Exit codes: 0 done, 2 bad usage, 3 the PKI could not be
 * made (the message names the file and the reason).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hosts.h"
#include "pki.h"

int cmd_certs(int argc, char **argv);

struct certs_opts {
    const char *out;
    enum pki_key_type type;
    int fault; /* enum pki_leaf_fault, -1 when none asked */
    const char *host;
    const char *client;
};

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: ssesim certs --out DIR [options]\n"
            "\n"
            "Make the private CAs and a leaf for every emulated host in DIR,\n"
            "or keep them: CAs are never replaced, leaves are reissued when\n"
            "missing, unusable, expiring within 30 days or (with --key-type)\n"
            "of another key type.\n"
            "\n"
            "options:\n"
            "  --out DIR           where the layout lives (required)\n"
            "  --key-type ec|rsa   keys of what is issued (default: the\n"
            "                      existing root's; ec, P-256, for a new one)\n"
            "  --fault KIND        also issue a faulty leaf, to\n"
            "                      DIR/faults/KIND/HOST.pem and .key; KIND:\n"
            "                      expired, not-yet-valid, wrong-host,\n"
            "                      self-signed, unknown-ca, incomplete-chain,\n"
            "                      inspected (the emulated proxy's leaf)\n"
            "  --host HOST         the host of --fault, or \"all\"\n"
            "  --client-cert NAME  also issue a device certificate CN=NAME\n"
            "                      from the device CA, to DIR/clients/\n"
            "  -h, --help          this help\n");
}

static void
print_note(void *arg, const char *action, const char *path, const char *why)
{
    if (why[0] != '\0')
        printf("%-8s %s (%s)\n", action, path, why);
    else
        printf("%-8s %s\n", action, path);
}

static int bad_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ssesim certs: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

/* 0 with opts filled, 1 after --help, 2 on bad usage. */
static int
parse_opts(int argc, char **argv, struct certs_opts *o)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"key-type", required_argument, NULL, 'k'},
        {"fault", required_argument, NULL, 'f'},
        {"host", required_argument, NULL, 'H'},
        {"client-cert", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, v;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o->out = optarg;
            break;
        case 'k':
            v = pki_key_type_parse(optarg);
            if (v < 0)
                return bad_usage("--key-type: expected ec or rsa, not \"%s\"",
                                 optarg);
            o->type = (enum pki_key_type)v;
            break;
        case 'f':
            o->fault = pki_leaf_fault_parse(optarg);
            if (o->fault <= PKI_LEAF_OK)
                return bad_usage("--fault: unknown kind \"%s\"", optarg);
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'c':
            o->client = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return bad_usage("unknown or incomplete option \"%s\"",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument \"%s\"", argv[optind]);
    if (o->out == NULL)
        return bad_usage("%s", "--out DIR is required");
    if ((o->fault >= 0) != (o->host != NULL))
        return bad_usage("%s", "--fault and --host go together");
    if (o->host != NULL && strcmp(o->host, "all") != 0 &&
        !pki_host_name_ok(o->host))
        return bad_usage("--host: \"%s\" is not a host name", o->host);
    return 0;
}

static int
issue_fault(struct pki *p, enum pki_leaf_fault fault, const char *host,
            time_t now)
{
    char cert[4096], key[4096], err[512];

    if (pki_issue_fault_leaf(p, host, fault, now, err, sizeof(err)) < 0 ||
        pki_leaf_paths(p, host, fault, cert, key, sizeof(cert)) < 0) {
        fprintf(stderr, "ssesim certs: %s leaf for %s: %s\n",
                pki_leaf_fault_name(fault), host, err);
        return -1;
    }
    print_note(NULL, "wrote", key, "");
    print_note(NULL, "wrote", cert, pki_leaf_fault_name(fault));
    return 0;
}

static int
issue_faults(struct pki *p, const struct certs_opts *o, time_t now)
{
    size_t n;
    const struct sse_host *hosts = sse_hosts(&n);

    if (strcmp(o->host, "all") != 0)
        return issue_fault(p, (enum pki_leaf_fault)o->fault, o->host, now);
    for (size_t i = 0; i < n; i++)
        if (issue_fault(p, (enum pki_leaf_fault)o->fault, hosts[i].name, now) <
            0)
            return -1;
    return 0;
}

static int
issue_client(struct pki *p, const char *name, time_t now)
{
    char cert[4096], key[4096], err[512];

    if (pki_issue_client(p, name, now, err, sizeof(err)) < 0 ||
        pki_client_paths(p, name, cert, key, sizeof(cert)) < 0) {
        fprintf(stderr, "ssesim certs: client certificate %s: %s\n", name, err);
        return -1;
    }
    print_note(NULL, "wrote", key, "");
    print_note(NULL, "wrote", cert, "");
    return 0;
}

int
cmd_certs(int argc, char **argv)
{
    struct certs_opts o = {.type = PKI_KEY_AUTO, .fault = -1};
    struct pki *p = NULL;
    char err[1024], fp[PKI_FINGERPRINT_LEN];
    time_t now = time(NULL);
    int rc = parse_opts(argc, argv, &o);

    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (pki_ensure_noted(&p, o.out, o.type, now, print_note, NULL, err,
                         sizeof(err)) < 0) {
        fprintf(stderr, "ssesim certs: %s\n", err);
        return 3;
    }
    rc = 0;
    if (o.fault >= 0 && issue_faults(p, &o, now) < 0)
        rc = 3;
    if (rc == 0 && o.client != NULL && issue_client(p, o.client, now) < 0)
        rc = 3;
    if (rc == 0 && pki_fingerprint_sha256(pki_ca_cert(p, PKI_CA_ROOT), fp,
                                          sizeof(fp)) == 0)
        printf("root SHA256 Fingerprint=%s\n", fp);
    pki_free(p);
    fflush(stdout);
    return rc;
}
