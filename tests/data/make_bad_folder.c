/* make_bad_folder DIR: make the bad-files dataset folder of fixtures.h in DIR
 * (which must not exist) and print, one per line, what the trainer's log must
 * name for each bad entry. Used by bad_run.sh. */
#include <stdio.h>

#include "fixtures.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_bad_folder DIR\n");
        return 2;
    }
    fx_make_bad_folder(argv[1]);
    for (int i = 0; i < FX_N_BAD; i++)
        printf("%s\n", fx_bad_names[i]);
    return 0;
}
