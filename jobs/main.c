/* jobs/main.c -- the `weir` binary's entry point: everything is in jobs/cli.c. */
#include "jobs/cli.h"

int main(int argc, char **argv) { return weir_cli_main(argc, argv); }
