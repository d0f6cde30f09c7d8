/* Relocation patching: makes the calls other loaded objects make to a
 * function (malloc, PyTraceMalloc_Track ...) reach a replacement instead, by
 * rewriting the GOT slots their dynamic relocations name (PLT calls and
 * address loads alike). Objects loaded later are patched too: every dlsym
 * call any object makes is wrapped, and the one after a dlopen (CPython's
 * import looks up PyInit_<name> right after loading an extension; ctypes
 * looks up each function it calls) finds the new objects and patches them
 * before their code runs. dlsym of a patched function returns its
 * replacement, so ctypes' calls are seen as well.
 *
 * Patches are never undone: a replacement forwards to the original whenever
 * its recorder is not recording. docs/native.md says why this mechanism was
 * chosen and what it cannot see. */
#ifndef MEMSCOPE_ELFPATCH_H
#define MEMSCOPE_ELFPATCH_H

#include <stddef.h>

typedef struct msc_patch {
    const char *name;          /* the symbol, as relocations name it */
    void *original;            /* the function a call binds to; NULL: looked up by name in
                                  the global scope when added */
    void *replacement;         /* what the other objects call instead */
} msc_patch_t;

/* Adds patches (borrowed for the process's life, originals filled in; at
 * most 32 in all) and
 * applies every patch to every loaded object but this extension, the C
 * library and the dynamic loader. 0, or -1 when the table is full.
 * Thread-safe. */
int msc__elf_patch(msc_patch_t *patches, size_t n);

/* GOT slots written so far (for tests and diagnostics). */
size_t msc__elf_slots_patched(void);

#endif
