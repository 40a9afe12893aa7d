/* cmd_transform.c - `provflow transform` (placeholder until the transform). */
#include <stdio.h>

#include "provflow/cli.h"

int pf_cmd_transform(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("provflow transform: not built yet\n", stderr);
    return PF_EXIT_SOFTWARE;
}
