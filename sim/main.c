/*
 * main.c: ssesim, the emulated SSE cloud. One program, one subcommand per
 * role.
 */
#include <stdio.h>
#include <string.h>

int cmd_serve(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_fmc(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_triage(int argc, char **argv);
int cmd_conform(int argc, char **argv);

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "serve every emulated host of every region"},
    {"certs", cmd_certs, "make or check the private CA and host leaves"},
    {"fmc", cmd_fmc, "play the FMC: token, context, activation, wait"},
    {"run", cmd_run, "play scenario files against the cloud and connector"},
    {"triage", cmd_triage, "name the known field cases a connector.log shows"},
    {"conform", cmd_conform,
     "play the conformance suite against a connector, write a report"},
};

static void
usage(FILE *to)
{
    fprintf(to, "usage: ssesim COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(to, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(to, "\n`ssesim COMMAND --help` for a command's options.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ssesim: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
