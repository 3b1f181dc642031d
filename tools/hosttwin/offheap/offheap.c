// offheap: byte buffers outside the MicroPython heap, for the twins' 32-bit interpreter.
//
// Why: on the ESP32 the UART driver keeps its receive ring buffer in the IDF heap, not in
// MicroPython's GC heap. The UART twin (tools/hosttwin/machine.py) is Python, so without this
// its ring buffer would cost the test heap `rxbuf` bytes the board never spends. Only a small
// bytearray object (which refers to the C memory) lands in the GC heap, as the chip's UART
// object does.
//
//   import offheap
//   ring = offheap.bytearray(4096)   # zeroed, never freed (a twin makes one per UART setup)

#include <stdlib.h>

#include "py/runtime.h"

#define OFFHEAP_MAX (1 << 20)

static mp_obj_t offheap_bytearray(mp_obj_t size_in) {
    mp_int_t size = mp_obj_get_int(size_in);
    if (size <= 0 || size > OFFHEAP_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("size out of range"));
    }
    void *items = calloc(1, (size_t)size);
    if (items == NULL) {
        mp_raise_type(&mp_type_MemoryError);
    }
    return mp_obj_new_bytearray_by_ref((size_t)size, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(offheap_bytearray_obj, offheap_bytearray);

static const mp_rom_map_elem_t offheap_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_offheap) },
    { MP_ROM_QSTR(MP_QSTR_bytearray), MP_ROM_PTR(&offheap_bytearray_obj) },
};
static MP_DEFINE_CONST_DICT(offheap_globals, offheap_globals_table);

const mp_obj_module_t offheap_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&offheap_globals,
};

MP_REGISTER_MODULE(MP_QSTR_offheap, offheap_module);
