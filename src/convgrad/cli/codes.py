"""``convgrad embed | similar | cluster | generate | stylize``: codes without labels, and new images.

Thin: each verb parses, calls ``convgrad.codes`` and prints. The collection is the bundled MNIST
test split unless ``--data DIR`` is given (any data ``convgrad.data.open_data`` reads); images are
normalised with the checkpoint's own preprocessing.
"""
import os
import sys
import tempfile

from ..errors import ArgumentError

REPORT_IMAGES = 1000


def _k(text):
    """``--k``: an integer; its range is checked by the verb (a bad value is exit 1, not a usage error)."""
    try:
        return int(text)
    except ValueError:
        raise ArgumentError(f"--k: expected an integer, got {text!r}") from None


def _collection_args(parser):
    parser.add_argument("checkpoint", metavar="CHECKPOINT")
    parser.add_argument("--data", metavar="DIR",
                        help="the collection: any data open_data reads (default: the bundled MNIST sample)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="which split to encode (default: test, in its order)")
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")


def _codes_arg(parser):
    parser.add_argument("--codes", metavar="CODES.npz",
                        help="codes written by `convgrad embed` for this checkpoint and collection (else they are "
                        "computed now)")


def register(sub):
    embed = sub.add_parser("embed", help="write the codes of a collection to an .npz",
                           description="Encode every image of the collection with CHECKPOINT (an autoencoder's "
                           "or VAE's code, a classifier's penultimate layer) and write arrays `embeddings` "
                           "(N x d, float32) and `labels` (N, int64) to --out, streamed to disk.")
    _collection_args(embed)
    embed.add_argument("--out", required=True, metavar="FILE.npz")
    embed.add_argument("--report", action="store_true",
                       help="also print the leave-one-out 10-NN label agreement of codes, PCA and raw pixels")
    embed.set_defaults(handler=run_embed)

    similar = sub.add_parser("similar", help="the images of a collection nearest to IMAGE by code",
                             description="Print the k nearest images (rank, index, label, distance) to IMAGE "
                             "in the collection, by Euclidean distance between codes, and draw them beside it.")
    _collection_args(similar)
    similar.add_argument("image", metavar="IMAGE", help="a PNG/JPEG of one digit")
    similar.add_argument("--k", type=_k, default=10, help="neighbours (default: 10)")
    similar.add_argument("--out", metavar="GRID.png", help="write the query and its neighbours as a grid")
    similar.add_argument("--index", choices=("exact", "faiss"), default="exact",
                         help="exact NumPy search (default) or faiss (pip install convgrad[faiss])")
    _codes_arg(similar)
    similar.set_defaults(handler=run_similar)

    cluster = sub.add_parser("cluster", help="k-means on the codes: purity, NMI, a 2-D map, ambiguous images",
                             description="Cluster the codes with k-means and print purity and normalised "
                             "mutual information against the labels; draw a 2-D map coloured by label and "
                             "the images whose neighbourhoods are most mixed between two classes.")
    _collection_args(cluster)
    cluster.add_argument("--k", type=_k, default=10, help="clusters (default: 10)")
    cluster.add_argument("--out", metavar="MAP.png", help="write the 2-D map of the codes")
    cluster.add_argument("--map", choices=("tsne", "pca"), default="tsne", help="map method (default: tsne)")
    cluster.add_argument("--ambiguous", type=_k, metavar="N", help="list and draw the N most ambiguous images")
    cluster.add_argument("--ambiguous-out", metavar="GRID.png",
                         help="grid of the ambiguous images (default: MAP_ambiguous.png beside --out)")
    _codes_arg(cluster)
    cluster.set_defaults(handler=run_cluster)

    generate = sub.add_parser("generate", help="draw new images with a VAE or GAN checkpoint",
                              description="Sample --n images from N(0, I) in the latent space of a VAE or GAN "
                              "and write them as a grid; with --interpolate A B, walk from A's code to B's.")
    generate.add_argument("checkpoint", metavar="CHECKPOINT")
    generate.add_argument("--n", type=_k, default=64, help="images to draw (default: 64)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--out", default="generated.png", metavar="GRID.png")
    generate.add_argument("--interpolate", nargs=2, metavar=("A.png", "B.png"))
    generate.add_argument("--steps", type=_k, default=10, help="images of the walk, ends included (default: 10)")
    generate.add_argument("--report", metavar="CLASSIFIER",
                          help="judge 1,000 generated images with this classifier checkpoint (e.g. the default "
                          "LeNet-5): mean top probability, share of each class, Frechet distances")
    generate.set_defaults(handler=run_generate)

    stylize = sub.add_parser("stylize", help="style transfer (Gatys et al.) with a VGG",
                             description="Optimise an image with CONTENT's content and STYLE's style, measured "
                             "by Gram matrices of VGG feature maps. --model is a convgrad checkpoint or a zoo "
                             "name (vgg11 ... vgg19_bn); --weights loads a PyTorch state_dict into it.")
    stylize.add_argument("content", metavar="CONTENT")
    stylize.add_argument("style", metavar="STYLE")
    stylize.add_argument("--model", required=True, metavar="CHECKPOINT_OR_ZOO_NAME")
    stylize.add_argument("--weights", metavar="FILE.pth", help="torchvision-style weights for the zoo model")
    stylize.add_argument("--steps", type=_k, default=200, help="optimisation steps (default: 200)")
    stylize.add_argument("--size", type=_k, default=128, help="longer side of the images in pixels (default: 128)")
    stylize.add_argument("--style-weight", type=float, default=1e4)
    stylize.add_argument("--lr", type=float, default=0.02)
    stylize.add_argument("--out", required=True, metavar="F.png")
    stylize.set_defaults(handler=run_stylize)


def _positive(value, flag):
    if value < 1:
        raise ArgumentError(f"{flag} must be a positive integer, got {value}")
    return value


def _embed_to(args, out, progress=True, sharded=False):
    from ..codes import embed_dataset
    from ..codes.collection import open_for_model

    _positive(args.batch_size, "--batch-size")
    loaded, dataset = open_for_model(args.checkpoint, args.data, args.split)
    if sharded:  # under mpiexec -n N: the ranks share the batches, rank 0 writes (distributed/embed.py)
        from ..distributed.embed import embed_dataset_sharded

        embed_dataset_sharded(loaded.model, dataset, out, batch_size=args.batch_size, progress=progress)
    else:
        embed_dataset(loaded.model, dataset, out, batch_size=args.batch_size, progress=progress)
    return loaded, dataset


def _mpi_world():
    """The number of ranks of an ``mpiexec -n N`` job (MPI initialised when N > 1), else 1."""
    from ..distributed import comm

    if comm.launched_world_size() <= 1:
        return 1
    return comm.init()


def _pixels(dataset, pre, batch=1000):
    """The collection's images in [0, 1], flattened (N, C*H*W): the raw-pixel row of the report."""
    import numpy as np

    from ..codes.collection import to_display

    n = len(dataset)
    parts = [to_display(dataset.get_batch(np.arange(s, min(s + batch, n)))[0], pre) for s in range(0, n, batch)]
    return np.concatenate([p.reshape(len(p), -1) for p in parts])


def run_embed(args):
    from ..codes import knn_agreement_table, load_embeddings

    ranks = _mpi_world()
    try:
        loaded, dataset = _embed_to(args, args.out, sharded=ranks > 1)
    except BaseException as exc:
        if ranks > 1 and not isinstance(exc, SystemExit):  # a failing rank ends the whole job
            from ..distributed import comm

            comm.abort(f"convgrad embed: error: {' '.join(str(exc).split())}")
        raise
    if ranks > 1:
        from ..distributed import comm

        if not comm.is_main():
            return 0
    embeddings, labels = load_embeddings(args.out)
    print(f"wrote {args.out}: {embeddings.shape[0]} embeddings of dimension {embeddings.shape[1]} "
          f"({loaded.name}, {args.split} split)")
    if args.report:
        print("10-NN leave-one-out label agreement")
        pixels = _pixels(dataset, loaded.preprocessing)
        for row in knn_agreement_table(pixels, labels, embeddings, k=10, codes_name=f"{loaded.name} codes"):
            print(f"  {row['name']:<28} d={row['dim']:<5} {row['agreement']:.4f}")
    return 0


def _collection_codes(args):
    """The model, its preprocessing, the collection and its codes (from --codes, or computed now)."""
    from ..codes import load_embeddings
    from ..codes.collection import open_for_model

    if args.codes:
        loaded, dataset = open_for_model(args.checkpoint, args.data, args.split)
        embeddings, labels = load_embeddings(args.codes)
        if len(embeddings) != len(dataset):
            raise ArgumentError(f"--codes {args.codes} holds {len(embeddings)} codes, the collection has "
                                f"{len(dataset)} images (embed the same --data and --split)")
        return loaded.model, loaded.preprocessing, dataset, embeddings, labels
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "codes.npz")
        loaded, dataset = _embed_to(args, path)
        embeddings, labels = load_embeddings(path)
    return loaded.model, loaded.preprocessing, dataset, embeddings, labels


def run_similar(args):
    import numpy as np

    from ..codes import encode_batch, knn, save_grid
    from ..codes.collection import load_model, load_query, to_display
    from ..codes.neighbours import require_faiss

    _positive(args.k, "--k")
    if args.index == "faiss":
        require_faiss()
    query = load_query(args.image, load_model(args.checkpoint).preprocessing)  # a bad image fails early
    model, pre, dataset, embeddings, labels = _collection_codes(args)
    if args.k > len(embeddings):
        raise ArgumentError(f"--k {args.k} is more than the {len(embeddings)} images of the collection")
    dist, idx = knn(encode_batch(model, query), embeddings, k=args.k, index=args.index)
    print("rank  index  label  distance")
    for rank, (i, d) in enumerate(zip(idx[0], dist[0]), start=1):
        print(f"{rank:>4}  {i:>5}  {labels[i]:>5}  {d:.4f}")
    if args.out:
        images = np.concatenate([to_display(query, pre), to_display(dataset.get_batch(idx[0])[0], pre)])
        captions = ["query"] + [f"{labels[i]} d={d:.2f}" for i, d in zip(idx[0], dist[0])]
        save_grid(images, args.out, nrow=min(11, args.k + 1), captions=captions, highlight={0})
        print(f"wrote {args.out}")
    return 0


def run_cluster(args):
    from ..codes import ambiguous, draw_map, kmeans, map_2d, nmi, purity, save_grid
    from ..codes.collection import to_display

    _positive(args.k, "--k")
    if args.ambiguous is not None:
        _positive(args.ambiguous, "--ambiguous")
    model, pre, dataset, embeddings, labels = _collection_codes(args)
    clusters = kmeans(embeddings, k=args.k)
    print(f"k-means, k={args.k}, on {len(embeddings)} codes of dimension {embeddings.shape[1]}: "
          f"purity {purity(labels, clusters):.4f}  NMI {nmi(labels, clusters):.4f}")
    names = pre.get("classes")
    if args.out:
        draw_map(map_2d(embeddings, args.map), labels, args.out, class_names=names,
                 title=f"{args.map} map of {len(embeddings)} codes, coloured by label")
        print(f"wrote {args.out}")
    if args.ambiguous:
        found = ambiguous(embeddings, labels, n=args.ambiguous)
        name = (lambda c: names[c] if names and c < len(names) else str(c))
        print("index  label  between (shares of the 10 nearest codes)")
        for item in found:
            (a, b), (sa, sb) = item["classes"], item["shares"]
            print(f"{item['index']:>5}  {name(item['label']):>5}  {name(a)} {sa:.1f} / {name(b)} {sb:.1f}")
        out = args.ambiguous_out or (os.path.splitext(args.out)[0] + "_ambiguous.png" if args.out else None)
        if out:
            images = to_display(dataset.get_batch([f["index"] for f in found])[0], pre)
            captions = [f"{name(f['label'])} ({name(f['classes'][0])}|{name(f['classes'][1])})" for f in found]
            save_grid(images, out, nrow=8, captions=captions, scale=2)
            print(f"wrote {out}")
    return 0


def run_generate(args):
    from ..codes import interpolate, sample, save_grid
    from ..codes.collection import load_model, load_query, outputs_to_display
    from ..codes.generate import _decoder

    _positive(args.n, "--n")
    loaded = load_model(args.checkpoint)
    model, pre, name = loaded.model, loaded.preprocessing, loaded.name
    _decoder(model)  # a classifier fails here, in one line
    if args.interpolate:
        _positive(args.steps, "--steps")
        if args.steps < 2:
            raise ArgumentError(f"--steps must be at least 2, got {args.steps}")
        a, b = (load_query(path, pre) for path in args.interpolate)
        images = interpolate(model, a, b, steps=args.steps)
        save_grid(outputs_to_display(images, loaded), args.out, nrow=args.steps)
        print(f"wrote {args.out}: {args.steps} images from {args.interpolate[0]} to {args.interpolate[1]} ({name})")
        return 0
    images = sample(model, n=args.n, seed=args.seed)
    save_grid(outputs_to_display(images, loaded), args.out, nrow=8)
    print(f"wrote {args.out}: {args.n} images drawn by {name} (seed {args.seed})")
    if args.report:
        _generation_report(loaded, args)
    return 0


def _generation_report(loaded, args, n=REPORT_IMAGES):
    from ..codes import generation_report, sample
    from ..codes.collection import load_model, open_collection, outputs_to_display

    judge = load_model(args.report)
    cls_pre, cls_name = judge.preprocessing, judge.name
    generated = outputs_to_display(sample(loaded.model, n=n, seed=args.seed + 1), loaded)
    real = [_all_images(open_collection(None, split, {})) for split in ("test", "train")]
    report = generation_report(judge.model, generated, real[0], real[1], cls_pre.get("mean", [0.0]),
                               cls_pre.get("std", [1.0]), seed=args.seed)
    shares = " ".join(f"{c}:{s:.2f}" for c, s in enumerate(report["class_shares"]))
    print(f"judged by {cls_name} ({args.report}) on {report['n']} generated images:")
    print(f"  mean top probability {report['mean_top_probability']:.4f}")
    print(f"  share of each predicted class {shares}")
    print(f"  Frechet distance to the test digits {report['frechet']:.3f} (floor, test vs train digits: "
          f"{report['frechet_floor']:.3f}; ceiling, uniform noise: {report['frechet_ceiling']:.3f})")


def _all_images(dataset):
    import numpy as np

    return dataset.get_batch(np.arange(len(dataset)))[0]


def _style_model(args):
    from .. import models
    from ..io import load_checkpoint, load_torch_checkpoint

    if os.path.isfile(args.model):
        model = load_checkpoint(args.model).build_model()
    else:
        model = models.get_model(args.model)  # an unknown name is a one-line error listing the zoo
    if args.weights:
        model.load_state_dict(load_torch_checkpoint(args.weights), strict=True)
    return model


def run_stylize(args):
    import numpy as np
    from PIL import Image

    from .. import nn
    from ..codes import stylize
    from ..codes.style import feature_stack, load_image

    for value, flag in ((args.steps, "--steps"), (args.size, "--size")):
        _positive(value, flag)
    model = _style_model(args)
    features = feature_stack(model)
    if not os.path.isfile(args.model) and not args.weights:
        print(f"note: {args.model} has random weights (no --weights given): expect a texture mix, not a "
              "painting", file=sys.stderr)
    channels = next(m for m in features if isinstance(m, nn.Conv2d)).in_channels
    content = load_image(args.content, channels, args.size)
    style = load_image(args.style, channels, args.size)
    image, history = stylize(model, content, style, steps=args.steps, style_weight=args.style_weight, lr=args.lr)
    pixels = np.round(image.transpose(1, 2, 0) * 255).astype(np.uint8)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(args.out)
    print(f"wrote {args.out}: {image.shape[2]}x{image.shape[1]}, loss {history[0]['loss']:.4g} -> "
          f"{history[-1]['loss']:.4g} in {args.steps} steps")
    return 0
