using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TinyGpt;

/// <summary>The model's shape.</summary>
public sealed record GptConfig(int Vocabulary, int Layers, int Width, int Heads, int Context, bool TiedHead = true, bool ScaledResidualInit = false);

/// <summary>
/// A decoder-only transformer: token and position embeddings, pre-norm blocks of causal self-attention
/// (scaled_dot_product_attention) and a GELU MLP, a final norm, and a head (tied to the token embedding by default).
/// Matrices start at N(0, 0.02²); with <see cref="GptConfig.ScaledResidualInit"/> the two projections that write into
/// the residual stream start at N(0, (0.02/√(2·layers))²) (GPT-2's scaling, also nanoGPT's).
/// </summary>
public sealed class GptModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding _tokens, _positions;
    private readonly ModuleList<Block> _blocks;
    private readonly LayerNorm _norm;
    private readonly Linear? _head;
    private readonly GptConfig _config;

    public GptModel(GptConfig config) : base(nameof(GptModel))
    {
        _config = config;
        _tokens = nn.Embedding(config.Vocabulary, config.Width);
        _positions = nn.Embedding(config.Context, config.Width);
        _blocks = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(i => new Block($"block{i}", config)).ToArray());
        _norm = nn.LayerNorm(config.Width);
        _head = config.TiedHead ? null : nn.Linear(config.Width, config.Vocabulary, hasBias: false);
        RegisterComponents();
        foreach (var (name, parameter) in named_parameters())
        {
            using var _ = no_grad();
            if (!name.EndsWith("weight") || parameter.dim() != 2) continue;
            bool residual = config.ScaledResidualInit && (name.EndsWith("projection.weight") || name.EndsWith("down.weight"));
            nn.init.normal_(parameter, 0, residual ? 0.02 / Math.Sqrt(2.0 * config.Layers) : 0.02);
        }
    }

    public override Tensor forward(Tensor tokens)
    {
        long length = tokens.shape[1];
        var positions = arange(length, device: tokens.device);
        var x = _tokens.call(tokens) + _positions.call(positions);
        foreach (var block in _blocks) x = block.call(x);
        x = _norm.call(x);
        return _head is null ? x.matmul(_tokens.weight!.t()) : _head.call(x);
    }

    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly LayerNorm _norm1, _norm2;
        private readonly Linear _qkv, _projection, _up, _down;
        private readonly int _heads;

        public Block(string name, GptConfig config) : base(name)
        {
            _heads = config.Heads;
            _norm1 = nn.LayerNorm(config.Width);
            _qkv = nn.Linear(config.Width, 3 * config.Width);
            _projection = nn.Linear(config.Width, config.Width);
            _norm2 = nn.LayerNorm(config.Width);
            _up = nn.Linear(config.Width, 4 * config.Width);
            _down = nn.Linear(4 * config.Width, config.Width);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            long batch = x.shape[0], length = x.shape[1], width = x.shape[2];
            var qkv = _qkv.call(_norm1.call(x)).view(batch, length, 3, _heads, width / _heads).permute(2, 0, 3, 1, 4);
            var attention = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_casual: true);
            x = x + _projection.call(attention.transpose(1, 2).reshape(batch, length, width));
            return x + _down.call(nn.functional.gelu(_up.call(_norm2.call(x))));
        }
    }
}
