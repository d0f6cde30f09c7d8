/* Relocation patching (elfpatch.h). Each loaded object's dynamic section
 * lists its relocations; the JUMP_SLOT (PLT) and GLOB_DAT (address taken)
 * ones name a symbol and the GOT slot the loader filled with its address.
 * Writing the replacement's address into those slots redirects every call
 * that object makes, without touching code. A slot inside the object's
 * RELRO range sits on a page the loader made read-only; it is made writable
 * for the one store and read-only again.
 *
 * The C library and the dynamic loader are left alone: their internal calls
 * (malloc's own mmap, the loader's bookkeeping) are not the program's, and
 * patching them would record the allocator inside itself. So is any slot
 * through which an object reaches its own definition of the symbol (a
 * preloaded allocator or sanitizer runtime calling its own malloc). */
#include "elfpatch.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SUPPORTED 1
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define SUPPORTED 1
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#else
#define SUPPORTED 0
#endif

#define MAX_PATCHES 32

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* protects table's writers, the
                                                            scans and the counters below */
static const msc_patch_t *table[MAX_PATCHES]; /* written under lock before ntable grows */
static _Atomic size_t ntable;
static unsigned long long seen_adds, seen_subs;   /* loader's counters at the last scan */
static _Atomic size_t slots_patched;

typedef struct object {
    uintptr_t base;
    const ElfW(Sym) * symtab;
    const char *strtab;
    size_t strsz;
    const ElfW(Rela) * rela[2]; /* DT_JMPREL and DT_RELA */
    size_t nrela[2];
    uintptr_t relro_start;     /* the pages the loader made read-only */
    uintptr_t relro_end;
} object_t;

size_t msc__elf_slots_patched(void)
{
    return atomic_load(&slots_patched);
}

/* The objects never patched: by name, and this extension by address. */
static int leave_alone(const struct dl_phdr_info *info)
{
    static const char *const names[] = {"/libc.so", "/ld-linux", "/ld64.so", "linux-vdso",
                                        "linux-gate"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (info->dlpi_name && strstr(info->dlpi_name, names[i])) return 1;
    uintptr_t self = (uintptr_t)&msc__elf_patch;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && self >= start && self < start + ph->p_memsz) return 1;
    }
    return 0;
}

/* Addresses in a dynamic section are relocated by the loader in most
 * objects, but not in all (the vDSO's): one below the base is an offset. */
static uintptr_t dyn_ptr(uintptr_t base, ElfW(Addr) v)
{
    return v < base ? base + v : v;
}

/* Reads what patching needs from an object's program headers and dynamic
 * section; 0 when it has all of it. */
static int read_object(const struct dl_phdr_info *info, object_t *o)
{
    const ElfW(Dyn) *dyn = NULL;
    long pagesize = sysconf(_SC_PAGESIZE);
    memset(o, 0, sizeof(*o));
    o->base = info->dlpi_addr;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(o->base + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            o->relro_start = (o->base + ph->p_vaddr) & ~(uintptr_t)(pagesize - 1);
            o->relro_end = (o->base + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)(pagesize - 1);
        }
    }
    if (!dyn) return -1;
    ElfW(Sxword) pltrel = DT_RELA;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_SYMTAB: o->symtab = (const ElfW(Sym) *)dyn_ptr(o->base, dyn->d_un.d_ptr); break;
        case DT_STRTAB: o->strtab = (const char *)dyn_ptr(o->base, dyn->d_un.d_ptr); break;
        case DT_STRSZ: o->strsz = dyn->d_un.d_val; break;
        case DT_JMPREL: o->rela[0] = (const ElfW(Rela) *)dyn_ptr(o->base, dyn->d_un.d_ptr); break;
        case DT_PLTRELSZ: o->nrela[0] = dyn->d_un.d_val / sizeof(ElfW(Rela)); break;
        case DT_RELA: o->rela[1] = (const ElfW(Rela) *)dyn_ptr(o->base, dyn->d_un.d_ptr); break;
        case DT_RELASZ: o->nrela[1] = dyn->d_un.d_val / sizeof(ElfW(Rela)); break;
        case DT_PLTREL: pltrel = (ElfW(Sxword))dyn->d_un.d_val; break;
        default: break;
        }
    }
    if (pltrel != DT_RELA) o->nrela[0] = 0; /* REL-format PLTs are not on our targets */
    return o->symtab && o->strtab ? 0 : -1;
}

static void write_slot(const object_t *o, void **slot, void *value)
{
    if (__atomic_load_n(slot, __ATOMIC_RELAXED) == value) return;
    uintptr_t at = (uintptr_t)slot;
    int protected = at >= o->relro_start && at < o->relro_end;
    long pagesize = sysconf(_SC_PAGESIZE);
    void *page = (void *)(at & ~(uintptr_t)(pagesize - 1));
    if (protected && mprotect(page, (size_t)pagesize, PROT_READ | PROT_WRITE) != 0) return;
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    if (protected) mprotect(page, (size_t)pagesize, PROT_READ);
    atomic_fetch_add(&slots_patched, 1);
}

static const msc_patch_t *patch_named(const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i]->name, name) == 0) return table[i];
    return NULL;
}

static void patch_object(const object_t *o, size_t n)
{
#if SUPPORTED
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < o->nrela[k]; i++) {
            const ElfW(Rela) *r = &o->rela[k][i];
            unsigned long type = ELF64_R_TYPE(r->r_info), sym = ELF64_R_SYM(r->r_info);
            if ((type != R_JUMP_SLOT && type != R_GLOB_DAT) || sym == 0) continue;
            /* An object calling its own definition (an allocator's own
             * malloc, a sanitizer's) is the allocator at work: left alone. */
            if (o->symtab[sym].st_shndx != SHN_UNDEF) continue;
            ElfW(Word) at = o->symtab[sym].st_name;
            if (o->strsz && at >= o->strsz) continue;
            const msc_patch_t *p = patch_named(o->strtab + at, n);
            if (p) write_slot(o, (void **)(o->base + r->r_offset), p->replacement);
        }
    }
#else
    (void)o;
    (void)n;
#endif
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    object_t o;
    if (!leave_alone(info) && read_object(info, &o) == 0) patch_object(&o, *(size_t *)arg);
    return 0;
}

/* The loader's counts of objects added and removed, from the first
 * object's entry (every entry carries them). */
static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
    unsigned long long *c = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        c[0] = info->dlpi_adds;
        c[1] = info->dlpi_subs;
    }
    return 1;
}

/* Patches every object; lock held. */
static void scan_unlocked(void)
{
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(read_counters, c);
    seen_adds = c[0];
    seen_subs = c[1];
    size_t n = atomic_load(&ntable);
    dl_iterate_phdr(scan_one, &n);
}

static void scan_if_loaded(void)
{
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(read_counters, c);
    pthread_mutex_lock(&lock);
    if (c[0] != seen_adds || c[1] != seen_subs) scan_unlocked();
    pthread_mutex_unlock(&lock);
}

static void *replacement_of(void *fn)
{
    size_t n = atomic_load_explicit(&ntable, memory_order_acquire);
    for (size_t i = 0; fn && i < n; i++)
        if (table[i]->original == fn) return table[i]->replacement;
    return fn;
}

/* Every object's dlsym. Forwarded from here, an RTLD_NEXT lookup starts
 * after this extension rather than after its caller, which finds the same
 * definition unless one sits in between (an object loaded after this one
 * and defining the symbol too). */
static void *patched_dlsym(void *handle, const char *name)
{
    void *p = dlsym(handle, name);
    scan_if_loaded();
    return replacement_of(p);
}

int msc__elf_patch(msc_patch_t *patches, size_t n)
{
    static const msc_patch_t own[] = {{"dlsym", (void *)dlsym, (void *)patched_dlsym}};
    pthread_mutex_lock(&lock);
    size_t have = atomic_load(&ntable);
    if (have == 0) table[have++] = &own[0];
    if (have + n > MAX_PATCHES || !SUPPORTED) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        /* By name: a header may bind this object's own calls to another
         * symbol (mmap to mmap64), which a preloaded runtime may define
         * apart. */
        if (!patches[i].original) patches[i].original = dlsym(RTLD_DEFAULT, patches[i].name);
        table[have + i] = &patches[i];
    }
    atomic_store_explicit(&ntable, have + n, memory_order_release);
    scan_unlocked();
    pthread_mutex_unlock(&lock);
    return 0;
}
