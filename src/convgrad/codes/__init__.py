"""Codes without labels: embeddings, nearest neighbours, clusters, generation and its quality.

    from convgrad import codes
    codes.embed_dataset(model, dataset, "codes.npz")          # (N, d) embeddings + labels, streamed
    emb, labels = codes.load_embeddings("codes.npz")
    dist, idx = codes.knn(emb[:5], emb, k=10)                 # exact by blocks, or index="faiss"
    codes.knn_agreement_table(pixels, labels, emb)             # raw pixels vs PCA vs codes
    clusters = codes.kmeans(emb, k=10); codes.purity(labels, clusters), codes.nmi(labels, clusters)
    images = codes.sample(vae, n=64, seed=0); walk = codes.interpolate(vae, a, b, steps=10)
    image, history = codes.stylize(vgg, content, style, steps=200)

The families: ``embed`` (codes of a collection), ``neighbours`` (k-NN), ``cluster`` (k-means, purity,
NMI, 2-D map, ambiguous images), ``quality`` (k-NN agreement, Fréchet distance, generation report),
``generate`` (samples and latent walks), ``style`` (Gatys style transfer), ``collection`` (a
checkpoint and the images it encodes), ``grids`` (image grids with captions).
"""
from .cluster import ambiguous, draw_map, kmeans, map_2d, nmi, purity
from .embed import EmbeddingError, check_fits, embed_dataset, encode_batch, load_embeddings
from .generate import GenerationError, interpolate, latent_dim, sample
from .grids import image_grid, save_grid
from .neighbours import knn, leave_one_out
from .quality import (classifier_view, frechet_distance, generation_report, knn_agreement, knn_agreement_table,
                      pca)
from .style import gram_matrix, style_layers, stylize
