"""Text classification with a Transformer.

Modelled on the keras.io example "Text classification with Transformer"
(https://keras.io/examples/nlp/text_classification_with_transformer/, keras-io
examples/nlp/text_classification_with_transformer.py): a ``TransformerBlock`` layer owning a
``MultiHeadAttention``, a feed-forward ``Sequential``, two ``LayerNormalization`` and two
``Dropout`` layers; a ``TokenAndPositionEmbedding`` layer adding a position embedding looked
up with ``ops.arange``; the IMDB reviews loaded with ``keras.datasets.imdb.load_data`` and
padded with ``keras.utils.pad_sequences``. Only the import block names the framework.

Environment: ``EXAMPLE_EPOCHS`` (default 2, as in the example), ``EXAMPLE_MAXLEN`` (default
200, as in the example), ``EXAMPLE_SEED``.
"""

import os

import gpunet as keras
from gpunet import layers, ops

keras.utils.set_random_seed(int(os.environ.get("EXAMPLE_SEED", 1337)))


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=False):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


vocab_size = 20000  # Only consider the top 20k words
maxlen = int(os.environ.get("EXAMPLE_MAXLEN", 200))  # first 200 words of each movie review
(x_train, y_train), (x_val, y_val) = keras.datasets.imdb.load_data(num_words=vocab_size)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

embed_dim = 32  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 32  # Hidden layer size in feed forward network inside transformer

inputs = layers.Input(shape=(maxlen,))
embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
x = embedding_layer(inputs)
transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
x = transformer_block(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
# every weight of the nested layers is tracked: the example's 657,758 parameters at maxlen 200
print("parameters:", model.count_params())
assert model.count_params() == 657_758 + (maxlen - 200) * embed_dim

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(
    x_train, y_train, batch_size=32, epochs=int(os.environ.get("EXAMPLE_EPOCHS", 2)),
    validation_data=(x_val, y_val)
)
score = model.evaluate(x_val, y_val, verbose=0)
print("Validation loss:", score[0])
print("Validation accuracy:", score[1])
