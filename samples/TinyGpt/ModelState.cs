using TorchSharp;
using static TorchSharp.torch;

namespace TinyGpt;

/// <summary>
/// A model's weights copied out and back <em>in place</em>. TorchSharp's <c>Module.load</c> moves a module on a GPU to
/// the CPU and back, which gives every parameter a new tensor handle; an optimizer made before that keys its state
/// by the old handles and fails at its next <c>state_dict</c> or <c>step</c>. Here the module's own tensors are
/// written into (<c>copy_</c>), so their handles, and the optimizer built on them, stay valid on any device.
/// </summary>
internal static class ModelState
{
    /// <summary>
    /// Reads a file written by <c>Module.save</c> into the module's own tensors (on a GPU through a CPU buffer each).
    /// A file of another model (other names, shapes or element types) is refused with <see cref="InvalidDataException"/>.
    /// </summary>
    public static void Load(nn.Module module, string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        var state = module.state_dict();
        long count = ReadCount(reader);
        if (count != state.Count) throw new InvalidDataException($"{path}: {count} tensors, the model has {state.Count}.");
        for (long i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (!state.TryGetValue(name, out var tensor)) throw new InvalidDataException($"{path}: '{name}' is not a tensor of this model.");
            try
            {
                tensor.Load(reader);
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"{path}: '{name}': {e.Message}", e);
            }
        }
    }

    // Module.save writes the entry count as an unsigned LEB128 number (seven bits a byte, low bits first).
    private static long ReadCount(BinaryReader reader)
    {
        long value = 0;
        for (int shift = 0; shift < 63; shift += 7)
        {
            byte next = reader.ReadByte();
            value |= (long)(next & 0x7F) << shift;
            if ((next & 0x80) == 0) return value;
        }
        throw new InvalidDataException("The tensor count of the file is not a valid number.");
    }
}
