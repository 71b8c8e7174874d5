"""The seed lab's notebook code (shared/seeds 000/001), verbatim but for plotting, as an independent reference.

Only the figure-drawing lines of ``train`` are left out; they draw no random numbers and change no state that
training reads.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


class Data(Dataset):
    def __init__(self, K=3, N=500):
        D = 2
        X = np.zeros((N * K, D))
        y = np.zeros(N * K, dtype="uint8")
        for j in range(K):
            ix = range(N * j, N * (j + 1))
            r = np.linspace(0.0, 1, N)
            t = np.linspace(j * 4, (j + 1) * 4, N) + np.random.randn(N) * 0.2
            X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
            y[ix] = j
        self.y = torch.from_numpy(y).type(torch.LongTensor)
        self.x = torch.from_numpy(X).type(torch.FloatTensor)
        self.len = y.shape[0]

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def __len__(self):
        return self.len


class Net(nn.Module):
    def __init__(self, Layers):
        super(Net, self).__init__()
        self.hidden = nn.ModuleList()
        for input_size, output_size in zip(Layers, Layers[1:]):
            self.hidden.append(nn.Linear(input_size, output_size))

    def forward(self, activation):
        L = len(self.hidden)
        for (l, linear_transform) in zip(range(L), self.hidden):
            if l < L - 1:
                activation = F.relu(linear_transform(activation))
            else:
                activation = linear_transform(activation)
        return activation


def accuracy(model, data_set):
    _, yhat = torch.max(model(data_set.x), 1)
    return (yhat == data_set.y).numpy().mean()


def train(data_set, model, criterion, train_loader, optimizer, epochs=100):
    LOSS = []
    ACC = []
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
            yhat = model(x)
            loss = criterion(yhat, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        LOSS.append(loss.item())
        ACC.append(accuracy(model, data_set))
    return {"Loss": LOSS, "Accuracy": ACC}


def run_notebook(epochs=100):
    """The notebook's cells in order; returns its ``Results`` dict."""
    torch.manual_seed(1)
    np.random.seed(1)
    data_set = Data()
    data_set.y = data_set.y.view(-1)
    Results = {}
    for name, momentum in [("momentum 0", None), ("momentum 0.1", 0.1), ("momentum 0.2", 0.2),
                           ("momentum 0.4", 0.4), ("momentum 0.5", 0.5)]:
        Layers = [2, 50, 3]
        model = Net(Layers)
        learning_rate = 0.10
        if momentum is None:
            optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
        else:
            optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
        train_loader = DataLoader(dataset=data_set, batch_size=20)
        criterion = nn.CrossEntropyLoss()
        Results[name] = train(data_set, model, criterion, train_loader, optimizer, epochs=epochs)
    return Results


def spiral_data(samples, classes):
    """Seed 004's generator, verbatim."""
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        ix = range(samples * class_number, samples * (class_number + 1))
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(class_number * 4, (class_number + 1) * 4, samples) + np.random.randn(samples) * 0.2
        X[ix] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[ix] = class_number
    return X, y
